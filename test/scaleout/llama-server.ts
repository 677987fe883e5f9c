// A real llama.cpp `llama-server` for the tests: started on a free port of 127.0.0.1 with the settings
// that make it compute what node-llama-cpp computes in-process (CPU, no flash attention, one slot),
// ready when it prints the address it listens on (it does so after the model and adapters are loaded).
import { spawn, type ChildProcess } from 'node:child_process';

export interface LlamaServer {
    url: string;
    /** The server's output so far (stdout and stderr). */
    log(): string;
    close(): Promise<void>;
}

export interface LlamaServerOptions {
    model: string;
    /** The name /v1/models reports; without one llama-server reports the model's path. */
    alias?: string;
    lora?: string[];
    threads?: number;
    contextSize?: number;
    /** Bound on the start (model load included). */
    readyMs?: number;
}

export function startLlamaServer(bin: string, o: LlamaServerOptions): Promise<LlamaServer> {
    const threads = String(o.threads ?? 1);
    const args = [
        '-m',
        o.model,
        ...(o.alias ? ['--alias', o.alias] : []),
        ...(o.lora ?? []).flatMap((p) => ['--lora', p]),
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '-t',
        threads,
        '-tb',
        threads,
        '-c',
        String(o.contextSize ?? 1024),
        // node-llama-cpp's defaults: no flash attention; CPU only
        '-fa',
        'off',
        '-ngl',
        '0',
        // one slot: requests are served one after another, as the local generator's one sequence does
        '-np',
        '1',
        '--no-webui',
        '--no-warmup',
    ];
    const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let exited = false;
    const exit = new Promise<void>((res) => child.once('exit', () => ((exited = true), res())));
    const close = async () => {
        if (exited) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(killer);
    };
    return new Promise<LlamaServer>((resolve, reject) => {
        const timer = setTimeout(() => {
            void close();
            reject(new Error(`llama-server did not start within ${o.readyMs ?? 60_000} ms:\n${out.slice(-3000)}`));
        }, o.readyMs ?? 60_000);
        const onData = (d: Buffer) => {
            out += d.toString();
            const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
            if (m) {
                clearTimeout(timer);
                child.stdout!.off('data', onData);
                child.stderr!.off('data', onData);
                const keep = (x: Buffer) => (out = (out + x.toString()).slice(-200_000));
                child.stdout!.on('data', keep);
                child.stderr!.on('data', keep);
                resolve({ url: `${m[1]}/v1`, log: () => out, close });
            }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.once('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.once('exit', (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`llama-server exited (${code ?? signal}) before it was ready: ${bin} ${args.join(' ')}\n${out.slice(-3000)}`));
        });
    });
}
