// The test page of web/vectors_test.go: loads format.js from the console's
// versioned assets (?assets=/console/v-…/), fetches the vector list, and
// leaves promises for the Go test to await. Loaded as a module under the
// console's own Content-Security-Policy.
import { runVectors } from './run.js';

const assets = new URL(location.href).searchParams.get('assets');

async function getJSON(url) {
	const r = await fetch(url);
	if (!r.ok) throw new Error(`${url}: ${r.status}`);
	return r.json();
}

const format = import(assets + 'format.js');

// Every vector file, in the order the server lists them.
window.vectorResults = (async () => {
	const f = await format;
	const names = await getJSON('/vectors/');
	return runVectors(f, names, (n) => getJSON('/vectors/' + n));
})();

// checkPaths runs normalizePath on each path: {ok, normalized, kind}.
window.checkPaths = async (paths) => {
	const f = await format;
	return paths.map((p) => {
		try {
			return { ok: true, normalized: f.normalizePath(p) };
		} catch (e) {
			return { ok: false, kind: e.kind || String(e) };
		}
	});
};

// fileIDs returns the file IDs of paths under the given matter key.
window.fileIDs = async (matter, epoch1KeyHex, paths) => {
	const f = await format;
	const k = await f.FileIDKey.derive(matter, f.fromHex(epoch1KeyHex));
	const out = [];
	for (const p of paths) out.push(f.toHex(await k.fileID(p)));
	return out;
};

window.vectorResults.then(
	(r) => { document.getElementById('status').textContent = `done: ${r.length}`; },
	(e) => { document.getElementById('status').textContent = `failed: ${e}`; });
