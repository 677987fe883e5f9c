/** Heap held by one open 2,000-line document (after a forced GC); run with node --expose-gc. */
import { EmptyFileSystem, URI } from 'langium';
import { createMismatchServices } from '../../language/mismatch-module.js';
import { generateSpec } from './generate.js';

const gc = (globalThis as { gc?: () => void }).gc!;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
gc();
const base = process.memoryUsage();
const { shared } = createMismatchServices(EmptyFileSystem);
const text = generateSpec(2000);
const uri = URI.parse('file:///bench/m.mismatch');
const doc = shared.workspace.LangiumDocumentFactory.fromString(text, uri);
shared.workspace.LangiumDocuments.addDocument(doc);
await shared.workspace.DocumentBuilder.build([doc], { validation: true });
gc();
const after = process.memoryUsage();
console.log(
    `baseline heap ${mb(base.heapUsed)} rss ${mb(base.rss)}; with the document heap ${mb(after.heapUsed)} rss ${mb(after.rss)}; document ≈ ${mb(after.heapUsed - base.heapUsed)} (services included)`,
);
