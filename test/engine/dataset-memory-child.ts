// Child process of the dataset memory test: loads a dataset and prints its RSS before and its peak
// RSS after, so the measure is of this process alone (not of the test runner).
import { loadDataset } from '../../engine/datasets/index.js';

const [path, train, test] = process.argv.slice(2);
const before = process.memoryUsage().rss;
const d = await loadDataset(
    { kind: 'file', path, format: 'jsonl', fields: { question: 'question', answers: 'answer', id: 'id' } },
    [
        { name: 'train', count: Number(train) },
        { name: 'test', count: Number(test) },
    ],
    5,
    { dedupe: true },
);
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(JSON.stringify({ before, peak, records: d.records.length, first: d.records[0]?.id, dropped: d.dropped }) + '\n');
