#!/usr/bin/env node
// mdBook preprocessor for `mdbook test` only: adds a hidden `# extern crate NAME;` line to every
// Rust code block that uses one of the crates listed in book.toml
// (`[preprocessor.extern-crates] crates = [...]`).
//
// Why: `mdbook test -L DIR` runs `rustdoc --test` on each chapter with DIR on the library search
// path but no `--extern` flags, so in edition 2018 and later `use descent::...` does not resolve
// unless the crate is declared (mdBook issues #394 and #706). `cargo test -p descent-book` needs no
// such line (cargo passes `--extern`), so the chapters stay free of it and this preprocessor adds it
// only when mdBook tests them.
'use strict';

const { runPreprocessor, preprocessorConfig } = require('./mdbook');

// rustdoc's code block attributes: a block whose info string holds only these is Rust.
const RUSTDOC_ATTRS = new Set([
  '', 'rust', 'ignore', 'should_panic', 'no_run', 'compile_fail', 'test_harness', 'standalone_crate',
  'edition2015', 'edition2018', 'edition2021', 'edition2024', 'allow_fail',
]);
const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;

function main() {
  runPreprocessor({
    renderers: ['test'],
    transform(chapter, context) {
      const crates = preprocessorConfig(context, 'extern-crates').crates || [];
      chapter.content = addExternCrates(chapter.content, crates);
    },
  });
}

function isRust(info) {
  return info.trim().split(/[\s,]+/).every((t) => RUSTDOC_ATTRS.has(t) || t.startsWith('ignore-'));
}

function addExternCrates(markdown, crates) {
  const lines = markdown.split('\n');
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const open = FENCE.exec(lines[i]);
    if (!open) { out.push(lines[i]); i += 1; continue; }
    const [, indent, fence] = open;
    let end = i + 1;
    while (end < lines.length) {
      const close = FENCE.exec(lines[end]);
      if (close && close[2][0] === fence[0] && close[2].length >= fence.length && close[3].trim() === '') break;
      end += 1;
    }
    const body = lines.slice(i + 1, end);
    out.push(lines[i]);
    if (isRust(open[3])) {
      const text = body.join('\n');
      for (const name of crates) {
        const used = new RegExp(`\\b${name}::`).test(text);
        const declared = new RegExp(`extern\\s+crate\\s+${name}\\b`).test(text);
        if (used && !declared) out.push(`${indent}# extern crate ${name};`);
      }
    }
    out.push(...body);
    if (end < lines.length) out.push(lines[end]);
    i = end + 1;
  }
  return out.join('\n');
}

main();
