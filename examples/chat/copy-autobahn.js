// postinstall: copies the browser build of autobahn-browser, installed by
// npm at the version package-lock.json pins, to web/vendor/, where the
// router's [web] dir serves it to the page. Run again with `npm run vendor`.
'use strict';
const fs = require('fs');
const path = require('path');

const from = require.resolve('autobahn-browser/autobahn.min.js');
const dir = path.join(__dirname, 'web', 'vendor');
fs.mkdirSync(dir, { recursive: true });
fs.copyFileSync(from, path.join(dir, 'autobahn.min.js'));
const { version } = require('autobahn-browser/package.json');
console.log(`copied autobahn-browser ${version} to ${path.relative(process.cwd(), dir)}/autobahn.min.js`);
