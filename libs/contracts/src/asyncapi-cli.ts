import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { stringify } from 'yaml';

import { buildAsyncApiDocument } from './asyncapi.js';
import { CONTRACTS } from './catalogue.js';

// `npm run asyncapi` runs this from the repository root, where package.json and docs/ are.
const root = process.cwd();
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
};
const document = buildAsyncApiDocument(CONTRACTS, { version });
const target = join(root, 'docs', 'asyncapi.yaml');

writeFileSync(
  target,
  '# Generated from libs/contracts by `npm run asyncapi`: edit the contracts, not this file.\n' +
    stringify(document, { lineWidth: 100, aliasDuplicateObjects: false }),
);
process.stdout.write(
  `wrote ${target}: ${Object.keys(document.channels).length} channels, ` +
    `${Object.keys(document.components.messages).length} messages\n`,
);
