// Runs a WASI command module under Node.js's WASI (preview1): node node-wasi.mjs APP.wasm ARGS...
// Used by bench/wasm/run; needs node --experimental-wasi-unstable-preview1 before v20.
import { readFile } from 'node:fs/promises';
import { argv, env, exit } from 'node:process';
import { WASI } from 'node:wasi';

const wasi = new WASI({ version: 'preview1', args: argv.slice(2), env, preopens: {},
			returnOnExit: true });
const module = await WebAssembly.compile(await readFile(argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
