// Test-runner extension (tests only). code-server's server ignores --extensionTestsPath, so this
// extension plays that part: on startup it loads the suite bundle named by MISMATCH_EXTHOST_SUITE
// (the same module @vscode/test-electron would load: it exports `run()`), runs it inside this
// extension host, and the suite writes its results to MISMATCH_EXTHOST_RESULT for the harness.
'use strict';
const fs = require('node:fs');

exports.activate = async function activate() {
    const suite = process.env.MISMATCH_EXTHOST_SUITE;
    const out = process.env.MISMATCH_EXTHOST_RESULT;
    if (!suite || !out) return;
    const write = (obj) => fs.writeFileSync(out + '.tmp', JSON.stringify(obj, null, 1)) || fs.renameSync(out + '.tmp', out);
    try {
        await require(suite).run();
    } catch (e) {
        // run() rejects when tests fail; the suite has written its results already unless it crashed.
        if (!fs.existsSync(out)) write({ crashed: String(e && e.stack ? e.stack : e), tests: [] });
    }
};

exports.deactivate = function deactivate() {};
