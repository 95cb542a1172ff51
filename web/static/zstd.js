// Bounded zstd decompression for sealed chunks (docs/FORMAT.md, section 6).
//
// The decoder is the vendored fzstd 0.1.1 (vendor/fzstd/VERSION): the
// browsers' DecompressionStream has no 'zstd' in Debian's Chromium 156 nor
// in Firefox or Safari, and one decoder everywhere is one code path tested
// on the format's vectors. fzstd allocates a frame's window (or, in single
// segment mode, its declared content size) up front, so every frame header
// is read here first and a window or declared size over the limit is
// refused before fzstd sees the data: no allocation follows a declared size
// beyond the limit, and output stops at the limit (no zip bombs).
//
// Errors carry .kind: 'too large' (over the limit) or 'malformed' (not a
// zstd stream this format allows), the vocabulary of format.js.

import { Decompress } from './vendor/fzstd/fzstd.js';

const ZSTD_MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 << 10; // RFC 8878 Block_Maximum_Size cap

function fail(kind, message) {
	const e = new Error(`zstd: ${message}`);
	e.kind = kind;
	return e;
}

function u32le(b, i) {
	return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

// checkFrames walks the frames of b (headers and block headers only, no
// decoding) and refuses what the Go reader refuses before decoding:
// reserved bits, dictionaries, windows or declared sizes over limit,
// reserved block types, blocks over the block size, truncation and
// trailing bytes.
export function checkFrames(b, limit) {
	if (b.length === 0) throw fail('malformed', 'empty stream');
	let i = 0;
	let declared = 0;
	while (i < b.length) {
		if (b.length - i < 4) throw fail('malformed', `${b.length - i} trailing bytes`);
		const magic = u32le(b, i);
		if ((magic & 0xfffffff0) >>> 0 === 0x184d2a50) { // skippable frame
			if (b.length - i < 8) throw fail('malformed', 'truncated skippable frame');
			const n = u32le(b, i + 4);
			if (b.length - i - 8 < n) throw fail('malformed', 'truncated skippable frame');
			i += 8 + n;
			continue;
		}
		if (magic !== ZSTD_MAGIC) throw fail('malformed', `bad frame magic ${magic.toString(16)}`);
		i += 4;
		if (i >= b.length) throw fail('malformed', 'truncated frame header');
		const fhd = b[i++];
		const fcsFlag = fhd >> 6, single = (fhd >> 5) & 1, reserved = (fhd >> 3) & 1;
		const checksum = (fhd >> 2) & 1, dictFlag = fhd & 3;
		if (reserved) throw fail('malformed', 'reserved frame header bit set');
		let window = 0;
		if (!single) {
			if (i >= b.length) throw fail('malformed', 'truncated frame header');
			const wd = b[i++];
			const base = 2 ** (10 + (wd >> 3));
			window = base + (base / 8) * (wd & 7);
		}
		const dictLen = [0, 1, 2, 4][dictFlag];
		const fcsLen = fcsFlag === 0 ? single : 1 << fcsFlag;
		if (b.length - i < dictLen + fcsLen) throw fail('malformed', 'truncated frame header');
		let dict = 0;
		for (let k = 0; k < dictLen; k++) dict += b[i + k] * 2 ** (8 * k);
		i += dictLen;
		if (dict !== 0) throw fail('malformed', `dictionary ${dict} (the format uses none)`);
		let fcs = -1; // unknown
		if (fcsLen > 0) {
			fcs = 0;
			for (let k = 0; k < fcsLen; k++) fcs += b[i + k] * 2 ** (8 * k); // exact below 2^53; larger is refused anyway
			if (fcsLen === 2) fcs += 256;
			i += fcsLen;
		}
		if (single) window = fcs;
		if (window > limit) throw fail('too large', `window of ${window} bytes (limit ${limit})`);
		if (fcs > limit) throw fail('too large', `frame declares ${fcs} bytes (limit ${limit})`);
		if (fcs > 0) {
			declared += fcs;
			if (declared > limit) throw fail('too large', `frames declare ${declared} bytes (limit ${limit})`);
		}
		// As klauspost/compress (the Go reader): a single-segment frame's
		// window is its content size, at least 1 KiB.
		const blockMax = Math.min(single ? Math.max(window, 1024) : window, BLOCK_MAX);
		for (let last = 0; !last;) {
			if (b.length - i < 3) throw fail('malformed', 'truncated block header');
			const bh = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
			i += 3;
			last = bh & 1;
			const type = (bh >> 1) & 3, size = bh >>> 3;
			if (type === 3) throw fail('malformed', 'reserved block type');
			// The Go reader calls an oversized raw or RLE block a window
			// overrun (too large) and an oversized compressed block bad data.
			if (size > blockMax) throw fail(type === 2 ? 'malformed' : 'too large', `block of ${size} bytes over the block maximum ${blockMax}`);
			const body = type === 1 ? 1 : size;
			if (b.length - i < body) throw fail('malformed', 'truncated block');
			i += body;
		}
		if (checksum) {
			if (b.length - i < 4) throw fail('malformed', 'truncated checksum');
			i += 4; // ignored: AES-GCM authenticated the payload
		}
	}
}

// decompress returns the concatenated content of the zstd frames in b, at
// most limit bytes, or throws an error with .kind 'too large' or
// 'malformed'.
export function decompress(b, limit) {
	checkFrames(b, limit);
	const parts = [];
	let n = 0;
	const over = fail('too large', `decompresses beyond ${limit} bytes`);
	const d = new Decompress((part) => {
		n += part.length;
		if (n > limit) throw over;
		parts.push(part); // a fresh array per block (fzstd copies into its window)
	});
	try {
		d.push(b, true);
	} catch (e) {
		if (e === over) throw over;
		throw fail('malformed', e && e.message ? e.message : String(e));
	}
	const out = new Uint8Array(n);
	let off = 0;
	for (const p of parts) {
		out.set(p, off);
		off += p.length;
	}
	return out;
}
