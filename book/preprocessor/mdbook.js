// The mdBook preprocessor protocol (mdBook 0.4 and 0.5), shared by the preprocessors here.
//
// `SCRIPT supports RENDERER` must exit 0 for the renderers the preprocessor handles; otherwise stdin
// holds `[context, book]` as JSON and stdout must receive the book back.
'use strict';

const fs = require('fs');

// Runs a preprocessor: the `renderers` it supports, `start(context)` before the chapters,
// `transform(chapter, context)` for every chapter (it may rewrite `chapter.content`), and
// `finish(context)` after them. Throwing from any of them fails the build with the message.
function runPreprocessor({ renderers, start = () => {}, transform, finish = () => {} }) {
  if (process.argv[2] === 'supports') {
    process.exit(renderers.includes(process.argv[3]) ? 0 : 1);
  }
  const [context, book] = JSON.parse(fs.readFileSync(0, 'utf8'));
  try {
    start(context);
    forEachChapter(book.items || book.sections || [], (chapter) => transform(chapter, context));
    finish(context);
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(book));
}

// Visits every chapter, depth first (mdBook 0.5 calls the list `items`, 0.4 `sections`).
function forEachChapter(items, visit) {
  for (const item of items) {
    if (item && item.Chapter) {
      visit(item.Chapter);
      forEachChapter(item.Chapter.sub_items || [], visit);
    }
  }
}

// This preprocessor's table in book.toml (`[preprocessor.NAME]`).
function preprocessorConfig(context, name) {
  return (context.config.preprocessor || {})[name] || {};
}

module.exports = { runPreprocessor, preprocessorConfig };
