/**
 * `npm run deploy:sync`: rewrites the kustomize base's generated files (deploy/kubernetes/config.yaml
 * from config/default.yaml, prometheusrule.yaml from rules/). A unit test fails while they differ.
 */
import { writeFileSync } from 'node:fs';
import { generatedBaseFiles } from './render.js';

for (const { file, text } of generatedBaseFiles()) {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${file}\n`);
}
