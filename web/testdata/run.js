// Runs format/testdata/vectors in the browser against web/static/format.js
// and reports what it got; web/vectors_test.go judges the results against
// the vector files. Usable from node too (runVectors takes the module).
import { sha256Short } from './sha256.js';

// counterStream is the chunker vector's input: block i = SHA-256(seed || be64(i)).
function counterStream(seed, length) {
	const s = new TextEncoder().encode(seed);
	const msg = new Uint8Array(s.length + 8);
	msg.set(s);
	const dv = new DataView(msg.buffer);
	const out = new Uint8Array(length);
	for (let i = 0, off = 0; off < length; i++, off += 32) {
		dv.setBigUint64(s.length, BigInt(i));
		const blk = sha256Short(msg);
		out.set(blk.subarray(0, Math.min(32, length - off)), off);
	}
	return out;
}

function manifestJSON(f, m) {
	return {
		path: m.path, deleted: m.deleted, size: Number(m.size), mod_time: f.rfc3339(m.modTime), mode: m.mode,
		content_hash: f.toHex(m.contentHash), chunks: m.chunks.map((c) => ({ id: f.toHex(c.id), size: c.size })),
		author: m.author, device: m.device, created: f.rfc3339(m.created),
	};
}

async function keysOf(f, v) {
	const fk = await f.FileIDKey.derive(v.matter, f.fromHex(v.epoch1_key));
	return f.Keys.derive(fk, v.epoch, f.fromHex(v.epoch_key));
}

// runOne opens one vector the way a reader would and returns
// {outcome, ...what it decoded}. outcome is 'ok' or the error's kind.
async function runOne(f, v) {
	try {
		switch (v.kind) {
		case 'chunk': {
			const k = await keysOf(f, v);
			const plain = await k.openChunk(v.id, f.fromHex(v.sealed));
			return { outcome: 'ok', plaintext: f.toHex(plain) };
		}
		case 'manifest': {
			const k = await keysOf(f, v);
			const m = await k.openManifest(f.fromHex(v.sealed), v.id, v.version ?? 0); // omitted when 0 (Go omitempty)
			return { outcome: 'ok', manifest: manifestJSON(f, m) };
		}
		case 'keys': {
			const k = await keysOf(f, v);
			const d = v.derived, ek = f.fromHex(v.epoch_key);
			const sub = async (label) => f.toHex(await f.deriveSubkeyBytes(ek, v.matter, v.epoch, label));
			const plain = f.fromHex(d.chunk_plaintext);
			const id = await k.chunkID(plain);
			return {
				outcome: 'ok',
				derived: {
					chunk_id_key: await sub('chunk-id'),
					chunk_seal_key: await sub('chunk-seal'),
					manifest_seal_key: await sub('manifest-seal'),
					file_id_key: f.toHex(await f.deriveSubkeyBytes(f.fromHex(v.epoch1_key), v.matter, 1, 'file-id')),
					matter_tag: f.toHex(await f.matterTag(v.matter)),
					chunk_plaintext: d.chunk_plaintext,
					chunk_id: f.toHex(id),
					chunk_object_key: f.toHex(await k._chunkObjectKeyBytes(id)),
					path: d.path,
					file_id: f.toHex(await k.fileIDs.fileID(d.path)),
				},
			};
		}
		case 'chunker': {
			const c = v.chunker;
			const input = counterStream(c.seed, c.length);
			const sum = f.toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', input)));
			// Odd-sized pushes: how the input is split into reads must not matter.
			const ch = new f.Chunker();
			const lengths = [];
			for (let off = 0; off < input.length; off += 1000003) {
				for (const p of ch.push(input.subarray(off, off + 1000003))) lengths.push(p.length);
			}
			for (const p of ch.end()) lengths.push(p.length);
			return { outcome: 'ok', chunker: { input_sha256: sum, chunk_lengths: lengths } };
		}
		default:
			return { outcome: `unknown kind ${v.kind}` };
		}
	} catch (e) {
		if (e instanceof f.FormatError) return { outcome: e.kind, error: e.message };
		return { outcome: `exception: ${e && e.stack ? e.stack : e}` };
	}
}

// runVectors runs every named vector, fetched with getJSON(name).
export async function runVectors(f, names, getJSON) {
	const results = [];
	for (const name of names) {
		const v = await getJSON(name);
		const r = await runOne(f, v);
		r.file = name;
		results.push(r);
	}
	return results;
}
