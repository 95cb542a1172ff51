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

// runAllVectors runs every vector file, in the order the server lists them
// (on demand: the chunker vector keeps the page busy for seconds).
window.runAllVectors = async () => {
	const f = await format;
	const names = await getJSON('/vectors/');
	return runVectors(f, names, (n) => getJSON('/vectors/' + n));
};

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

document.getElementById('status').textContent = 'ready';

// readGenerated opens a file that Go sealed (web/vectors_test.go): its
// manifest, then its chunks through readFile, each with the keys of the
// epoch in its header. It returns what Go checks.
window.readGenerated = async (g) => {
	const f = await format;
	const fk = await f.FileIDKey.derive(g.matter, f.fromHex(g.epoch_keys['1']));
	const keys = new Map();
	const keysFor = (e) => {
		if (!keys.has(e)) keys.set(e, f.Keys.derive(fk, e, f.fromHex(g.epoch_keys[String(e)])));
		return keys.get(e);
	};
	const get = async (url) => {
		const r = await fetch(url);
		if (!r.ok) throw new Error(`${url}: ${r.status}`);
		return new Uint8Array(await r.arrayBuffer());
	};
	const sealed = await get('/gen/manifest');
	const m = await (await keysFor(f.parseHeader(sealed).epoch)).openManifest(sealed, g.file_id, g.version);
	const parts = [];
	for await (const p of f.readFile(m, { keysFor, fetchChunk: (id) => get('/gen/chunks/' + id) })) parts.push(p);
	const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let off = 0;
	for (const p of parts) { all.set(p, off); off += p.length; }
	return {
		path: m.path, size: Number(m.size), chunks: m.chunks.length,
		sha256: f.toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', all))),
		content_hash: f.toHex(m.contentHash),
		chunk_list_sha256: f.toHex(await f.chunkListSHA256(m)),
	};
};

// zstdCases runs zstd.js's bounded decompress on hex payloads: {kind} or
// {kind: 'ok', hex} (the output, for short ones) and its length.
window.zstdCases = async (payloads, limit) => {
	const [{ decompress }, f] = await Promise.all([import(assets + 'zstd.js'), format]);
	return payloads.map((h) => {
		try {
			const out = decompress(f.fromHex(h), limit);
			return { kind: 'ok', len: out.length, hex: out.length <= 4096 ? f.toHex(out) : '' };
		} catch (e) {
			return { kind: e.kind || `exception: ${e}` };
		}
	});
};
