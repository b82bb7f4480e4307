// Preloaded by `npm run check:cycles` (node --require): madge parses TypeScript through
// @typescript-eslint/typescript-estree and reads tsconfig.json with the compiler's JavaScript
// API, which TypeScript 7 (the project's compiler, a native binary) no longer has. This
// folder is a devDependency of its own (file:) whose dependency is TypeScript 5: npm installs
// it in this folder's node_modules, away from the project's, so the project's `tsc` stays 7.
// In this process every require of 'typescript' is answered with that copy.
const Module = require('node:module');

const typescript5 = require.resolve('typescript', { paths: [__dirname] });
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'typescript' ? typescript5 : resolve.call(this, request, ...rest);
};
