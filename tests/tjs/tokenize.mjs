#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Tokenize texts with the tokenizer of a local bundle (transformers.js,
// remote loading off): node tokenize.mjs BUNDLE_DIR TEXTS_JSON prints one
// JSON line, a list of {"ids": [...], "text": decoded, "plain": decoded
// without the special tokens} per text.  TEXTS_JSON may be @FILE, a file
// that holds the JSON list.
import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';

const [dir, texts] = process.argv.slice(2);
if (!dir || texts === undefined) {
  process.stderr.write('usage: tokenize.mjs BUNDLE_DIR TEXTS_JSON\n');
  process.exit(2);
}
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(dir)) + path.sep;
const tokenizer = await AutoTokenizer.from_pretrained(path.basename(path.resolve(dir)));
const list = JSON.parse(texts.startsWith('@')
  ? fs.readFileSync(texts.slice(1), 'utf8') : texts);
const out = list.map((t) => {
  const ids = Array.from(tokenizer(t).input_ids.tolist()[0], Number);
  return {
    ids,
    text: tokenizer.decode(ids),
    plain: tokenizer.decode(ids, { skip_special_tokens: true }),
  };
});
process.stdout.write(JSON.stringify(out) + '\n');
