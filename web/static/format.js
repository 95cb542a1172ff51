// The mattersync at-rest format, version 1, for browsers (docs/FORMAT.md).
//
// A reader of sealed chunks and manifests with the same checks, in the same
// order, as Go's package format: key derivation, chunk IDs, file IDs, the
// path rules, opening chunks (with bounded zstd) and manifests, and the
// FastCDC chunker. Pinned by format/testdata/vectors, run in Chromium by
// web/vectors_test.go. Plain ES module, no build step; crypto is WebCrypto
// (HKDF, HMAC-SHA256, AES-256-GCM, SHA-256).
//
// Keys: every derived key is a non-extractable CryptoKey. The epoch keys the
// caller passes in (Uint8Array) are only read; the caller drops them (and
// may zero them) when done. Dropping a Keys object is the only way to forget
// its keys, as in Go.
//
// Errors: every failure is a FormatError whose .kind is one of the outcome
// names of the vectors ('truncated', 'bad header', 'unsupported version',
// 'too large', 'wrong matter', 'wrong epoch', 'wrong chunk ID',
// 'wrong file ID', 'wrong version', 'auth failure', 'malformed') or
// 'unsafe path' (a path that breaks section 9).

import { decompress } from './zstd.js';

export const FORMAT_VERSION = 1;
export const HEADER_SIZE = 32, NONCE_SIZE = 12, TAG_SIZE = 16;
export const OVERHEAD = HEADER_SIZE + NONCE_SIZE + TAG_SIZE;
export const MIN_CHUNK_SIZE = 512 << 10, NORMAL_CHUNK_SIZE = 1 << 20, MAX_CHUNK_SIZE = 8 << 20;
export const MAX_MANIFEST_SIZE = 16 << 20, MAX_PATH_LEN = 4096, MAX_SEGMENT_LEN = 255, MAX_NAME_LEN = 255;
export const EPOCH_KEY_SIZE = 32, ID_SIZE = 32, MAX_MATTER_ID_LEN = 40;
export const MAX_FILE_VERSION = (1n << 63n) - 1n;
export const PERM_MASK = 0o777;
export const KIND_CHUNK = 1, KIND_MANIFEST = 2;

const FLAG_ZSTD = 1, FLAG_TOMBSTONE = 2, KNOWN_FLAGS = FLAG_ZSTD | FLAG_TOMBSTONE;
const MAGIC = [0x6d, 0x73, 0x79, 0x6e]; // "msyn"
const KDF_SALT = 'mattersync/format/v1';
const MANIFEST_PAD = 256;

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();
const strictUTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// FormatError is every error of this module: .kind says what happened,
// .detail why (the message is "format: <detail>: <kind>", as Go's errors).
export class FormatError extends Error {
	constructor(kind, detail) {
		super(`format: ${detail}: ${kind}`);
		this.name = 'FormatError';
		this.kind = kind;
		this.detail = detail;
	}
}

function fail(kind, detail) { return new FormatError(kind, detail); }

// ---- bytes and IDs ----

export function toHex(b) {
	let s = '';
	for (const c of b) s += c.toString(16).padStart(2, '0');
	return s;
}

// fromHex parses lowercase hex (IDs have one spelling, as in Go's ParseID).
export function fromHex(s) {
	if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) {
		throw new TypeError('format: not lowercase hex of whole bytes');
	}
	const b = new Uint8Array(s.length / 2);
	for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
	return b;
}

// parseID parses the 64-character lowercase hex form of a chunk or file ID.
export function parseID(s) {
	if (typeof s !== 'string' || s.length !== 2 * ID_SIZE) {
		throw new TypeError(`format: ID must be ${2 * ID_SIZE} hex characters`);
	}
	return fromHex(s);
}

function asID(id) {
	if (typeof id === 'string') return parseID(id);
	if (!(id instanceof Uint8Array) || id.length !== ID_SIZE) throw new TypeError('format: an ID is 32 bytes');
	return id;
}

function equalBytes(a, b) {
	if (a.length !== b.length) return false;
	let d = 0;
	for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
	return d === 0;
}

function concat(...parts) {
	let n = 0;
	for (const p of parts) n += p.length;
	const out = new Uint8Array(n);
	let o = 0;
	for (const p of parts) { out.set(p, o); o += p.length; }
	return out;
}

function be32(n) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; }
function be64(n) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b; }

function asVersion(v) {
	const n = BigInt(v);
	if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError('format: file version out of range');
	return n;
}

// ---- matter IDs ----

// validateMatterID throws a TypeError unless id is a valid matter ID
// (section 2, Go's ValidateMatterID).
export function validateMatterID(id) {
	if (typeof id !== 'string' || id === '') throw new TypeError('format: matter ID is empty');
	if (id.length > MAX_MATTER_ID_LEN) throw new TypeError(`format: matter ID is ${id.length} characters long, the limit is ${MAX_MATTER_ID_LEN}`);
	for (let i = 0; i < id.length; i++) {
		const c = id[i];
		if (c >= 'a' && c <= 'z' || c >= '0' && c <= '9') continue;
		if (c === '-' && i !== 0 && i !== id.length - 1) continue;
		throw new TypeError(`format: matter ID ${JSON.stringify(id)}: character ${JSON.stringify(c)} at position ${i} is not allowed`);
	}
	for (const suffix of ['-rw', '-ro', '-screened']) {
		if (id.endsWith(suffix)) throw new TypeError(`format: matter ID ${JSON.stringify(id)} ends in ${suffix}, reserved for Vault group names`);
	}
}

// ---- key derivation (section 3) ----

function subkeyInfo(label, matter, epoch) {
	const m = utf8.encode(matter);
	return concat(utf8.encode('mattersync/v1 ' + label), new Uint8Array([0, m.length]), m, be32(epoch));
}

// deriveSubkeyBytes returns subkey(K, label, e) as bytes. Only for tests and
// tools: Keys and FileIDKey keep their subkeys as non-extractable CryptoKeys.
export async function deriveSubkeyBytes(epochKey, matter, epoch, label) {
	if (!(epochKey instanceof Uint8Array) || epochKey.length !== EPOCH_KEY_SIZE) {
		throw new TypeError(`format: epoch key must be ${EPOCH_KEY_SIZE} bytes`);
	}
	const ikm = await subtle.importKey('raw', epochKey, 'HKDF', false, ['deriveBits']);
	const bits = await subtle.deriveBits(
		{ name: 'HKDF', hash: 'SHA-256', salt: utf8.encode(KDF_SALT), info: subkeyInfo(label, matter, epoch) }, ikm, 256);
	return new Uint8Array(bits);
}

// hmacKey derives a subkey and imports it as a non-extractable HMAC key,
// wiping the bytes. It also returns the SHA-256 of the subkey, which
// DeriveKeys compares for epoch 1, without keeping the key itself.
async function hmacKey(epochKey, matter, epoch, label) {
	const raw = await deriveSubkeyBytes(epochKey, matter, epoch, label);
	try {
		const key = await subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
		const fingerprint = new Uint8Array(await subtle.digest('SHA-256', raw));
		return { key, fingerprint };
	} finally {
		raw.fill(0);
	}
}

async function hmac(key, data) { return new Uint8Array(await subtle.sign('HMAC', key, data)); }

// objectKeyBytes is the AES-256 key of one sealed object:
// HKDF-Expand(PRK = seal key, info, 32). 32 bytes are one SHA-256 block, so
// HKDF-Expand is T(1) = HMAC(PRK, info || 0x01), computed with the seal key
// as an HMAC key (WebCrypto's HKDF always runs Extract first).
async function objectKeyBytes(sealKey, kind, id, version) {
	const info = concat(utf8.encode('mattersync/v1 object'), new Uint8Array([0, kind]), id, be64(version), new Uint8Array([1]));
	return hmac(sealKey, info);
}

async function objectKey(sealKey, kind, id, version) {
	const raw = await objectKeyBytes(sealKey, kind, id, version);
	try {
		return await subtle.importKey('raw', raw, 'AES-GCM', false, ['decrypt']);
	} finally {
		raw.fill(0);
	}
}

// matterTag is the first 4 bytes of SHA-256("mattersync/v1 matter" || 0 || matter).
export async function matterTag(matter) {
	const d = await subtle.digest('SHA-256', concat(utf8.encode('mattersync/v1 matter'), new Uint8Array([0]), utf8.encode(matter)));
	return new Uint8Array(d, 0, 4).slice();
}

// FileIDKey computes file IDs of one matter; it comes from the matter's
// epoch 1 key only, so file IDs never change with rotations.
export class FileIDKey {
	#key; #fingerprint;
	constructor(secret, matter, key, fingerprint, tag) {
		if (secret !== FileIDKey.#secret) throw new TypeError('format: use FileIDKey.derive');
		this.matter = matter;
		this.matterTag = tag;
		this.#key = key;
		this.#fingerprint = fingerprint;
		Object.freeze(this);
	}
	static #secret = Symbol('FileIDKey');

	// derive derives the file-ID key of matter from its epoch 1 key.
	static async derive(matter, epoch1Key) {
		validateMatterID(matter);
		const { key, fingerprint } = await hmacKey(epoch1Key, matter, 1, 'file-id');
		return new FileIDKey(FileIDKey.#secret, matter, key, fingerprint, await matterTag(matter));
	}

	// fileID returns the file ID of path (normalized first, as Go's FileID).
	async fileID(path) {
		return this.#fileIDOfCanonical(normalizePath(path));
	}

	async #fileIDOfCanonical(p) { return hmac(this.#key, utf8.encode(p)); }

	static _sameKey(k, fingerprint) { return equalBytes(k.#fingerprint, fingerprint); }
	static _fileIDOfCanonical(k, p) { return k.#fileIDOfCanonical(p); }
}

// Keys holds the subkeys of one matter epoch.
export class Keys {
	#chunkID; #chunkSeal; #manifestSeal;
	constructor(secret, fileIDs, epoch, chunkID, chunkSeal, manifestSeal) {
		if (secret !== Keys.#secret) throw new TypeError('format: use Keys.derive');
		this.fileIDs = fileIDs;
		this.matter = fileIDs.matter;
		this.epoch = epoch;
		this.#chunkID = chunkID;
		this.#chunkSeal = chunkSeal;
		this.#manifestSeal = manifestSeal;
		Object.freeze(this);
	}
	static #secret = Symbol('Keys');

	// derive derives the keys of epoch of the matter of fileIDs. For epoch
	// 1, epochKey must be the key fileIDs came from.
	static async derive(fileIDs, epoch, epochKey) {
		if (!(fileIDs instanceof FileIDKey)) throw new TypeError('format: Keys.derive needs a FileIDKey');
		if (!Number.isInteger(epoch) || epoch < 1 || epoch > 0xffffffff) throw new TypeError(`format: epoch ${epoch} is invalid, epochs start at 1`);
		const m = fileIDs.matter;
		if (epoch === 1) {
			const { fingerprint } = await hmacKey(epochKey, m, 1, 'file-id');
			if (!FileIDKey._sameKey(fileIDs, fingerprint)) throw new TypeError('format: the epoch 1 key is not the key of the FileIDKey');
		}
		const [id, cs, ms] = await Promise.all([
			hmacKey(epochKey, m, epoch, 'chunk-id'),
			hmacKey(epochKey, m, epoch, 'chunk-seal'),
			hmacKey(epochKey, m, epoch, 'manifest-seal'),
		]);
		return new Keys(Keys.#secret, fileIDs, epoch, id.key, cs.key, ms.key);
	}

	// chunkID returns HMAC-SHA256(chunk-ID key, plain).
	async chunkID(plain) { return hmac(this.#chunkID, plain); }

	// _chunkObjectKeyBytes is for the key vector only.
	async _chunkObjectKeyBytes(id) { return objectKeyBytes(this.#chunkSeal, KIND_CHUNK, asID(id), 0n); }

	// openChunk verifies and decrypts a sealed chunk of this matter and
	// epoch with chunk ID id, decompresses it (at most 8 MiB), and checks
	// that it hashes to id. It returns the plaintext.
	async openChunk(id, sealed) {
		id = asID(id);
		try {
			const { h, payload } = await openObject(sealed, this.#chunkSeal, KIND_CHUNK, this, id, 0n);
			let plain = payload;
			if (h.compressed) {
				try {
					plain = decompress(payload, MAX_CHUNK_SIZE);
				} catch (e) {
					if (e.kind === 'too large') throw fail('too large', `decompresses beyond ${MAX_CHUNK_SIZE} bytes: ${e.message}`);
					throw fail('malformed', e.message);
				}
			}
			if (plain.length === 0) throw fail('malformed', 'empty chunk');
			if (plain.length > MAX_CHUNK_SIZE) throw fail('too large', `decompresses to ${plain.length} bytes`);
			if (!equalBytes(await this.chunkID(plain), id)) throw fail('malformed', 'content does not hash to the chunk ID');
			return plain;
		} catch (e) {
			throw rewrap(e, `open chunk ${toHex(id)}`);
		}
	}

	// openManifest verifies and decrypts a sealed manifest of this matter
	// and epoch for file ID fileID and file version version (number or
	// bigint), decodes it, and checks its tombstone flag and that its path
	// hashes to fileID.
	async openManifest(sealed, fileID, version) {
		fileID = asID(fileID);
		version = asVersion(version);
		try {
			const { h, payload } = await openObject(sealed, this.#manifestSeal, KIND_MANIFEST, this, fileID, version);
			let m;
			try {
				m = decodeManifest(payload);
			} catch (e) {
				// As in Go, whatever is wrong with an authentic encoding
				// (an unsafe path included) is malformed.
				throw e instanceof FormatError ? fail('malformed', `${e.detail} (${e.kind})`) : e;
			}
			if (m.deleted !== h.tombstone) throw fail('malformed', `deleted is ${m.deleted}, the header's tombstone flag ${h.tombstone}`);
			m.version = version;
			if (!equalBytes(await FileIDKey._fileIDOfCanonical(this.fileIDs, m.path), fileID)) {
				throw fail('malformed', 'path does not hash to the file ID');
			}
			return m;
		} catch (e) {
			throw rewrap(e, `open manifest ${toHex(fileID)} v${version}`);
		}
	}
}

function rewrap(e, context) {
	return e instanceof FormatError ? new FormatError(e.kind, `${context}: ${e.detail}`) : e;
}

// ---- sealed objects (section 7) ----

// parseHeader parses and checks the 32-byte clear header (no key needed).
export function parseHeader(b) {
	if (!(b instanceof Uint8Array)) throw new TypeError('format: sealed object must be a Uint8Array');
	if (b.length < HEADER_SIZE) throw fail('truncated', `${b.length} bytes, shorter than the ${HEADER_SIZE}-byte header`);
	for (let i = 0; i < 4; i++) if (b[i] !== MAGIC[i]) throw fail('bad header', 'not a mattersync object (magic)');
	const v = new DataView(b.buffer, b.byteOffset, HEADER_SIZE);
	const h = {
		version: b[4], kind: b[5],
		compressed: (b[6] & FLAG_ZSTD) !== 0, tombstone: (b[6] & FLAG_TOMBSTONE) !== 0,
		epoch: v.getUint32(8), payloadLen: v.getUint32(12), fileVersion: v.getBigUint64(16),
		matterTag: b.slice(24, 28), idTag: b.slice(28, 32),
	};
	if (h.version !== FORMAT_VERSION) throw fail('unsupported version', `format version ${h.version}, this reader reads ${FORMAT_VERSION}`);
	const flags = b[6];
	if (h.kind !== KIND_CHUNK && h.kind !== KIND_MANIFEST) throw fail('bad header', `unknown object kind ${h.kind}`);
	if ((flags & ~KNOWN_FLAGS) !== 0 || b[7] !== 0) throw fail('bad header', 'reserved header bits set');
	if (h.kind === KIND_MANIFEST && h.compressed) throw fail('bad header', 'compressed manifest');
	if (h.kind === KIND_CHUNK && h.tombstone) throw fail('bad header', 'chunk flagged as tombstone');
	if (h.epoch === 0) throw fail('bad header', 'epoch 0');
	if (h.kind === KIND_CHUNK && h.fileVersion !== 0n) throw fail('bad header', `chunk with file version ${h.fileVersion}`);
	if (h.kind === KIND_MANIFEST && (h.fileVersion === 0n || h.fileVersion > MAX_FILE_VERSION)) throw fail('bad header', `manifest with file version ${h.fileVersion}`);
	if (h.kind === KIND_CHUNK && (h.payloadLen === 0 || h.payloadLen > MAX_CHUNK_SIZE)) {
		throw fail(h.payloadLen === 0 ? 'bad header' : 'too large', `chunk payload of ${h.payloadLen} bytes (limit ${MAX_CHUNK_SIZE})`);
	}
	if (h.kind === KIND_MANIFEST && h.payloadLen > MAX_MANIFEST_SIZE) throw fail('too large', `manifest payload of ${h.payloadLen} bytes (limit ${MAX_MANIFEST_SIZE})`);
	h.sealedSize = OVERHEAD + h.payloadLen;
	return h;
}

// openObject runs the checks of section 7 in their order, then AES-GCM.
async function openObject(sealed, sealKey, kind, keys, id, version) {
	const h = parseHeader(sealed);
	if (sealed.length < h.sealedSize) throw fail('truncated', `${sealed.length} bytes, header says ${h.sealedSize}`);
	if (sealed.length > h.sealedSize) throw fail('bad header', `${sealed.length - h.sealedSize} bytes after the declared end`);
	const what = kind === KIND_CHUNK ? 'chunk' : 'manifest';
	if (h.kind !== kind) throw fail('bad header', `object is a ${h.kind === KIND_CHUNK ? 'chunk' : 'manifest'}, want a ${what}`);
	if (!equalBytes(h.matterTag, keys.fileIDs.matterTag)) throw fail('wrong matter', `matter tag ${toHex(h.matterTag)} does not match matter ${keys.matter}`);
	if (!equalBytes(h.idTag, id.subarray(0, 4))) throw fail(kind === KIND_CHUNK ? 'wrong chunk ID' : 'wrong file ID', `ID tag ${toHex(h.idTag)} does not match ${what} ${toHex(id)}`);
	if (h.fileVersion !== version) throw fail('wrong version', `file version ${h.fileVersion}, want ${version}`);
	if (h.epoch !== keys.epoch) throw fail('wrong epoch', `sealed under epoch ${h.epoch}, key is for epoch ${keys.epoch}`);
	const m = utf8.encode(keys.matter);
	const aad = concat(sealed.subarray(0, HEADER_SIZE), new Uint8Array([m.length]), m, id);
	const key = await objectKey(sealKey, kind, id, version);
	let payload;
	try {
		payload = new Uint8Array(await subtle.decrypt(
			{ name: 'AES-GCM', iv: sealed.subarray(HEADER_SIZE, HEADER_SIZE + NONCE_SIZE), additionalData: aad, tagLength: 128 },
			key, sealed.subarray(HEADER_SIZE + NONCE_SIZE)));
	} catch {
		throw fail('auth failure', 'authentication failed');
	}
	return { h, payload };
}

// ---- manifests (section 8) ----

class Reader {
	constructor(b) { this.b = b; this.v = new DataView(b.buffer, b.byteOffset, b.byteLength); this.i = 0; }
	need(n) { if (this.b.length - this.i < n) throw fail('malformed', 'manifest encoding ends early'); }
	u8() { this.need(1); return this.b[this.i++]; }
	u16() { this.need(2); const x = this.v.getUint16(this.i); this.i += 2; return x; }
	u32() { this.need(4); const x = this.v.getUint32(this.i); this.i += 4; return x; }
	u64() { this.need(8); const x = this.v.getBigUint64(this.i); this.i += 8; return x; }
	i64() { this.need(8); const x = this.v.getBigInt64(this.i); this.i += 8; return x; }
	bytes(n) { this.need(n); const x = this.b.subarray(this.i, this.i + n); this.i += n; return x; }
	str(n) {
		try {
			return strictUTF8.decode(this.bytes(n));
		} catch (e) {
			if (e instanceof FormatError) throw e;
			throw fail('malformed', 'string is not valid UTF-8');
		}
	}
	time() {
		const seconds = this.i64(), nanos = this.u32();
		if (nanos >= 1e9) throw fail('malformed', `nanoseconds ${nanos} out of range`);
		return { seconds, nanos };
	}
	get rest() { return this.b.length - this.i; }
}

// decodeManifest accepts exactly the one encoding Go writes (section 8).
export function decodeManifest(b) {
	if (b.length > MAX_MANIFEST_SIZE) throw fail('too large', `${b.length} bytes`);
	const r = new Reader(b);
	const flags = r.u8();
	if (flags & ~1) throw fail('malformed', `unknown manifest flags ${flags}`);
	const m = { path: '', version: 0n, deleted: (flags & 1) !== 0 };
	m.path = r.str(r.u16());
	m.size = r.u64();
	m.modTime = r.time();
	m.mode = r.u32();
	m.contentHash = r.bytes(32).slice();
	m.author = r.str(r.u8());
	m.device = r.str(r.u8());
	m.created = r.time();
	const n = r.u32();
	if (n * (ID_SIZE + 4) > r.rest) throw fail('malformed', `${n} chunks do not fit in ${r.rest} bytes`);
	m.chunks = new Array(n);
	let sum = 0n;
	for (let i = 0; i < n; i++) {
		const id = r.bytes(ID_SIZE).slice(), size = r.u32();
		if (size === 0 || size > MAX_CHUNK_SIZE) throw fail('malformed', `chunk ${i} has size ${size}, want 1 to ${MAX_CHUNK_SIZE}`);
		sum += BigInt(size);
		m.chunks[i] = { id, size };
	}
	const used = r.i, pad = (MANIFEST_PAD - used % MANIFEST_PAD) % MANIFEST_PAD;
	if (r.rest !== pad || !r.bytes(r.rest).every((c) => c === 0)) {
		throw fail('malformed', `padding of ${b.length - used} bytes is not the ${pad} zero bytes expected`);
	}
	validatePath(m.path); // 'unsafe path': the caller makes it 'malformed'
	if (m.mode & ~PERM_MASK) throw fail('malformed', `mode ${m.mode.toString(8)} has bits outside 777`);
	if (m.deleted && (m.size !== 0n || n !== 0)) throw fail('malformed', `tombstone with size ${m.size} and ${n} chunks`);
	if (sum !== m.size) throw fail('malformed', `size ${m.size} is not the sum of the chunk sizes, ${sum}`);
	return m;
}

// rfc3339 formats a manifest time as Go's time.RFC3339Nano does in UTC
// (trailing zeros of the fraction dropped), for years 0 to 9999.
export function rfc3339(t) {
	const ms = Number(t.seconds) * 1000;
	const d = new Date(ms);
	if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 0 || d.getUTCFullYear() > 9999) {
		return `${t.seconds}s+${t.nanos}ns`;
	}
	let s = d.toISOString().slice(0, 19);
	if (t.nanos) s += '.' + String(t.nanos).padStart(9, '0').replace(/0+$/, '');
	return s + 'Z';
}

// chunkListSHA256 is the SHA-256 of a manifest's chunk IDs in order (API.md,
// chunk_list_sha256): readers compare it with what the gateway recorded.
export async function chunkListSHA256(m) {
	return new Uint8Array(await subtle.digest('SHA-256', concat(...m.chunks.map((c) => c.id))));
}

// readFile yields a file's content chunk by chunk, so a large file never
// sits in memory whole: for each chunk of manifest m it calls
// fetchChunk(idHex) for the sealed bytes, reads the epoch from the clear
// header, opens it with await keysFor(epoch) and checks its size against
// the manifest. The chunk-ID check in openChunk authenticates each piece;
// the manifest's content hash (SHA-256 of the whole file) is not checked
// here, as WebCrypto has no incremental SHA-256.
export async function* readFile(m, { keysFor, fetchChunk }) {
	if (m.deleted) throw fail('malformed', 'a tombstone has no content');
	for (const c of m.chunks) {
		const sealed = await fetchChunk(toHex(c.id));
		const h = parseHeader(sealed);
		const keys = await keysFor(h.epoch);
		const plain = await keys.openChunk(c.id, sealed);
		if (plain.length !== c.size) throw fail('malformed', `chunk ${toHex(c.id)} has ${plain.length} bytes, the manifest says ${c.size}`);
		yield plain;
	}
}

// ---- paths (section 9) ----

// normalizePath returns the NFC form of p if it is a valid path.
export function normalizePath(p) {
	if (typeof p !== 'string' || !isWellFormed(p)) throw fail('unsafe path', 'path is not valid Unicode');
	const n = p.normalize('NFC');
	validatePath(n);
	return n;
}

function isWellFormed(s) {
	if (typeof s.isWellFormed === 'function') return s.isWellFormed();
	return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

// validatePath throws a FormatError of kind 'unsafe path' unless p is a
// canonical manifest path (section 9, Go's ValidatePath).
export function validatePath(p) {
	if (typeof p !== 'string' || p === '') throw fail('unsafe path', 'empty path');
	if (!isWellFormed(p)) throw fail('unsafe path', 'path is not valid Unicode');
	const len = utf8.encode(p).length;
	if (len > MAX_PATH_LEN) throw fail('unsafe path', `path of ${len} bytes, the limit is ${MAX_PATH_LEN}`);
	if (p.normalize('NFC') !== p) throw fail('unsafe path', `path ${JSON.stringify(p)} is not NFC-normalized`);
	const segs = p.split('/');
	for (let i = 0; i < segs.length; i++) {
		const why = segmentProblem(segs[i], i === 0);
		if (why) throw fail('unsafe path', `path ${JSON.stringify(p)}: ${why}`);
	}
}

function segmentProblem(s, first) {
	if (s === '') return "empty segment (leading, trailing or double '/')";
	if (s === '.' || s === '..') return `segment ${JSON.stringify(s)}`;
	const bytes = utf8.encode(s);
	if (bytes.length > MAX_SEGMENT_LEN) return `segment of ${bytes.length} bytes, the limit is ${MAX_SEGMENT_LEN}`;
	const last = s[s.length - 1];
	if (last === '.' || last === ' ') return `segment ${JSON.stringify(s)} ends in a dot or space`;
	for (const ch of s) {
		const r = ch.codePointAt(0);
		if (r < 0x20 || (r >= 0x7f && r <= 0x9f)) return `segment ${JSON.stringify(s)} has a control character`;
		if ('<>:"\\|?*'.includes(ch)) return `segment ${JSON.stringify(s)} has character ${ch}, not allowed on Windows`;
	}
	if (isWindowsDeviceName(s)) return `segment ${JSON.stringify(s)} is a Windows device name`;
	if (isAgentName(s) || (first && isShortAgentDir(s))) return `segment ${JSON.stringify(s)} is reserved for the agent`;
	return '';
}

// upper maps each code point to its uppercase when that is one code point,
// as Go's strings.ToUpper does (JS's toUpperCase also expands, ß to SS).
function upper(s) {
	let out = '';
	for (const ch of s) {
		const u = ch.toUpperCase();
		out += [...u].length === 1 ? u : ch;
	}
	return out;
}

// isWindowsDeviceName: the stem before the first '.', trailing spaces
// removed, is a device name in any case. Lengths are in UTF-8 bytes, as in Go.
function isWindowsDeviceName(s) {
	const dot = s.indexOf('.');
	const stem = (dot < 0 ? s : s.slice(0, dot)).replace(/ +$/, '');
	const n = utf8.encode(stem).length;
	if (n === 3) return ['CON', 'PRN', 'AUX', 'NUL'].includes(upper(stem));
	if (n === 4 || n === 5) {
		const pre = stem.slice(0, 3);
		if (!/^[A-Za-z]{3}$/.test(pre)) return false; // three bytes that are not ASCII never spell COM or LPT
		const P = pre.toUpperCase();
		if (P !== 'COM' && P !== 'LPT') return false;
		return ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '\u00b9', '\u00b2', '\u00b3'].includes(stem.slice(3));
	}
	if (n === 6 || n === 7) return ['CONIN$', 'CONOUT$'].includes(upper(stem));
	return false;
}

const AGENT_PREFIX = '.mattersync';

// isAgentName: s starts with ".mattersync" in any case, ignoring the code
// points HFS+ ignores. Go compares the first 11 bytes with EqualFold; only
// ASCII bytes can match the ASCII prefix rune for rune.
function isAgentName(s) {
	const t = s.replace(/[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g, '');
	const b = utf8.encode(t);
	if (b.length < AGENT_PREFIX.length) return false;
	for (let i = 0; i < AGENT_PREFIX.length; i++) {
		let c = b[i];
		if (c >= 0x41 && c <= 0x5a) c += 0x20;
		if (c !== AGENT_PREFIX.charCodeAt(i)) return false;
	}
	return true;
}

// isShortAgentDir: a Windows 8.3 alias of .mattersync ("MATTER~1").
function isShortAgentDir(s) {
	const u = upper(s);
	return u.startsWith('MATTER~') && /^[0-9]+$/.test(u.slice(7));
}

// ---- chunking (section 5) ----

// The gear table of appendix A, each u64 as two u32 (high, low).
const GEAR = new Uint32Array([
	0x4d658221, 0x07fcfd52, 0x78629a0f, 0x5f3f164f, 0xd5104dc7, 0x6695721d, 0xb80704bb, 0x7b4d7c03,
	0x365a8581, 0x49c6e2d1, 0x57e9d186, 0x0d1d68d8, 0x8866cb39, 0x7916001e, 0x9408d2ac, 0x22c4d294,
	0x0c697f48, 0x392907a0, 0xa68447a4, 0x189deb99, 0x41f27cc6, 0xf3875d04, 0x68255aaf, 0x95e94627,
	0x9b6cffa2, 0xba517936, 0x30b95ff1, 0x83c471d4, 0xa8b62158, 0x7cb3ad0b, 0x3c04951a, 0xa42655d9,
	0xa43a768b, 0x7c4e0b68, 0xa5845c95, 0xd4491d1b, 0x56ec3f25, 0x25632186, 0x9bf98be2, 0xa9d78d73,
	0x1a02070f, 0x169c1121, 0x2e3108da, 0xbb158644, 0xc90bd268, 0xb68e6a3f, 0x6e661e92, 0x759805f5,
	0xa584c47f, 0x2cdf5b8a, 0x2606cd2b, 0x57d29245, 0x6054502f, 0xc5d6d268, 0x1a714cf8, 0x6b83d0e2,
	0xeec34c36, 0x7674cb74, 0xd92e17f7, 0xb068d9db, 0x430c8b35, 0xbb9457d8, 0x039f6f78, 0xa15d523b,
	0x944419db, 0x794209ff, 0x4dba7b0f, 0x9da1d7eb, 0xfcd4b7a5, 0x5a25e0cb, 0x8a2b894c, 0xf840ec4b,
	0x4c22b029, 0x36d4ff9b, 0x879143f7, 0xf4a5ee3b, 0x589442fd, 0x5ad145f4, 0x26984b92, 0xf6740304,
	0x962d968d, 0x3f71f8cb, 0x4542c292, 0x91018d7c, 0xc5a6e3ca, 0xfccae224, 0xa3a62343, 0xb186b51f,
	0xb629d9f1, 0x7d9e8fbc, 0xc3ea3b93, 0x93f93f33, 0x207403de, 0xf63a5b6f, 0x241b3ae4, 0x19476c36,
	0x64f1017f, 0xbc897d06, 0x2e4fa459, 0x169873f5, 0xf0b5a315, 0x724c7af1, 0xa607c649, 0x581eeb39,
	0x727a71f5, 0x2257bb7d, 0x0c796497, 0x6f269a28, 0x7d0b9ca8, 0xbe8e9981, 0x89825e11, 0x7039374b,
	0x9c73fac8, 0x25416fed, 0xd72d92fa, 0xded7e411, 0x1ee9f767, 0x6678e7aa, 0xa7dff7ab, 0x244fcd36,
	0x77678303, 0x56aa6b86, 0x5ef4e81e, 0xde4561ad, 0x6688f8bd, 0x3e99b0a8, 0x5d78399c, 0xbed80a3a,
	0x176a156a, 0xe58348b0, 0xb6d467a4, 0xaf63e58d, 0xf2d0a1e9, 0x406aec9d, 0x57613082, 0xc233f007,
	0xfd4d8e9f, 0xa5ead0bd, 0x760b0d22, 0x050143a6, 0x0ba08e4b, 0x738b6829, 0xbf1f46e8, 0x3699caf3,
	0x76a780ea, 0x967cd710, 0x7a3ba6f6, 0x06f665a6, 0xac89c167, 0x25fd3d7f, 0xd86d6826, 0x0fd6e479,
	0x5aff01c9, 0x26fbf29b, 0x4829ee07, 0x16de4c35, 0xd322787c, 0x2bf3394b, 0x46a03cb4, 0x4af864ba,
	0xe0bed31f, 0x1cb9e6c6, 0xb3afd379, 0x41439089, 0x90b92d01, 0x69a39144, 0xfe34179d, 0xc34f182d,
	0xf2bb5389, 0x421657ff, 0x293a0c2b, 0xf9fc6568, 0x5c4e91e9, 0x8b02c917, 0x52804793, 0x6c9c64b7,
	0x0af25603, 0x83d17909, 0xd5b4a4b2, 0xea3d4ca5, 0xcfb58fbe, 0xaf635d47, 0x2f521858, 0x7fc78769,
	0x9e503382, 0xbe14186f, 0x44841df3, 0x3539b1ea, 0x97f7ae24, 0xe9174548, 0x1e925507, 0xc051e18a,
	0x50658558, 0x07b73658, 0x103970a3, 0x29ec300c, 0xa402a18d, 0xa250bf34, 0x3485757e, 0xa7ed5d97,
	0xb7ab3641, 0xfe3dea79, 0xd0031d27, 0xb8b352f7, 0xc66b36db, 0xc9b344e9, 0x4fd269fd, 0x8e5f0475,
	0x5d55cb47, 0x1941e52a, 0xea4eef7a, 0x2694763d, 0x8010d632, 0x6b40eabc, 0xde377ef5, 0x8485d68b,
	0xb332aafe, 0x336eacca, 0x3fba2470, 0x4399a363, 0xcd4f278a, 0x67149b9c, 0xb46e5f29, 0xae10a901,
	0x83cc44bf, 0x5a5ffefb, 0x803e6306, 0x563b26de, 0x805d2928, 0x6f00f02b, 0x7539a201, 0x9f06397d,
	0xcb7fafc3, 0x545836c4, 0xc79a2bf9, 0x31d6416b, 0xe85f3257, 0x12f4128d, 0xf062b076, 0x752f33ff,
	0xbaae3e3e, 0x4a305605, 0x4cd239ea, 0x0c8dc214, 0x835ca80d, 0x72521a90, 0xec443faf, 0x8eb3e4a1,
	0x1ff5f262, 0x83efc6c6, 0x5225fcd6, 0x090ec04f, 0x1facfc5d, 0xc1540864, 0x963a5ace, 0xec2c8aaa,
	0xcbdb185b, 0x70ab53ba, 0xe83e14a5, 0x38d3b494, 0x58cfb024, 0x878d4063, 0x03e19bf7, 0xa317ae3f,
	0xc504d635, 0x3cb62f07, 0x7ce2e98e, 0xf360412c, 0x601900fb, 0x4ffbf3a9, 0xa5a1ffb5, 0x22d554b4,
	0x606796b8, 0x3f190476, 0x1352ca32, 0x0796a710, 0x2d89c820, 0xf5c353cf, 0x6a7cb5cf, 0x04f59bb7,
	0x9dac9b58, 0x2d230176, 0xd05ce263, 0xe2d6a9ce, 0x3fcb626c, 0x3f1d7427, 0x0b7fbfbc, 0xafd915bb,
	0x83398e40, 0xb01aa47d, 0x323423cf, 0xcde2c269, 0xcb70e7ac, 0x7417bf38, 0x76fd839a, 0x1e094f9a,
	0xc93a23eb, 0x55ece0ea, 0x4b56783c, 0xcb94539b, 0xb4b4a3c8, 0x13d346b5, 0x46baf447, 0x54e0c0c1,
	0x3eecfdbc, 0x6db30e37, 0x7a9e3bdc, 0xdc02b390, 0xe60aedf1, 0xa6e222f5, 0x0dbeaa0f, 0xe2f8c1fe,
	0xe43a7d71, 0x2e166bdf, 0x32560c7a, 0x67588a74, 0x90b166a2, 0x21898f34, 0x1852fe62, 0x4c330f1d,
	0x5eb29c77, 0x19af53ba, 0x53b7a0ff, 0x70658b94, 0x8c97d70a, 0x133c9673, 0x429bd23a, 0x4efeeadd,
	0x0cc3f10e, 0x0f212551, 0x136f9ac7, 0x070f0914, 0x89c09a3e, 0x6f241c57, 0x2858bd10, 0xf13e41b7,
	0x146f70ff, 0x3be70cb0, 0x91a39040, 0xf4b6f47f, 0x294b4e8e, 0x20f31127, 0xc50064ce, 0x6551cb89,
	0xc911aa87, 0x289cbd2c, 0xc1a2d528, 0x8946f23d, 0xd7930cf8, 0x40a79c3b, 0xd396d24a, 0x03c6d982,
	0xc322cee1, 0x0365790c, 0x53bf1faf, 0x0cf52517, 0x5bb1f57b, 0x0bb131e8, 0xd17d8ebf, 0x3da5475c,
	0x01a44786, 0x139efcca, 0x83ed64e9, 0xbcd44eb4, 0x8c8c4694, 0xa54af747, 0xaf3f0d6f, 0xb73c32ed,
	0x69c93fb0, 0x9f6c47ac, 0xac80d58f, 0xe8ba8f22, 0x2c1283b6, 0x54043a66, 0xa0624c58, 0x3b0a7f20,
	0x1bb55397, 0xb4926431, 0xc70a4f5a, 0xe17c02d5, 0xb3770eb5, 0x8f0d2558, 0x40d4e552, 0x014fbff2,
	0x95974b9d, 0x7f803594, 0x2a6a4670, 0x79b76fbe, 0xe9f98c40, 0x33fe2656, 0xd9a30874, 0x792c8ee8,
	0x876a20af, 0x6b41292d, 0x7fe4754a, 0xfdff9c32, 0xb4ad5ac8, 0x82093298, 0x8e4b5ac0, 0x59483870,
	0xe3efbff5, 0xb2d5a113, 0x0bca82a4, 0x2dd96e5a, 0x06d8e96f, 0x5b8e56a9, 0x5b7b2709, 0xebd9dda9,
	0x2018fa6e, 0x04f9ce92, 0xeca000e8, 0xcb440950, 0xfca82947, 0xa67e52b1, 0x1b35327a, 0x49f6d261,
	0x02c19e77, 0x92417fc3, 0xf8fc2454, 0x1c3b6bd9, 0x0be67230, 0xb027b7e0, 0xd2aaab03, 0x1f765a41,
	0x27ebdd8f, 0x44c9ab40, 0xb96747c0, 0x45d99121, 0xbe5ddb0e, 0xfd7a84af, 0x0a8eb1ac, 0x99b75788,
	0xd5fe7f03, 0xe3abff4a, 0xb3395eaf, 0xa88aa67f, 0xf33c374d, 0x736e41cc, 0x7995c5dc, 0x9cbcbe5e,
	0xa8dfd8d3, 0x7b3ccebc, 0x3febdd25, 0xe1b7fa93, 0xb3415dbd, 0x315ae6af, 0x8289172b, 0x9cced2e2,
	0xd290a231, 0x19ea0f2f, 0xb6df4331, 0xa9770722, 0x2b77e806, 0x84a6bfdc, 0xf197e134, 0x88f03f07,
	0x1e3ffa8a, 0xa44a03a4, 0x61ebca08, 0x27a6b885, 0x04939bb8, 0xb580c8ba, 0xdd214064, 0x018153da,
	0xd01b6a22, 0xb648e604, 0xc1acd9f5, 0x51180278, 0x8945fcdd, 0x893a310f, 0xdcb389ac, 0x728f5f4c,
	0x709ec184, 0x37f5198b, 0xfd275a87, 0x3cc0ea9b, 0xec7ae37a, 0xe39d02db, 0x6a857648, 0x13883142,
	0x9fb95e8c, 0xca599392, 0xf4ea42af, 0xc12d154e, 0x099ad1bd, 0xc176163d, 0xeae4ae6d, 0x5c92e2b8,
	0x508df0dc, 0xf9f95ede, 0x60390908, 0xb802bdfc, 0xd0e57d0f, 0x8a928585, 0x0c68571d, 0xdca6e10b,
	0x81e5dcfd, 0x887953e8, 0x4abb18c9, 0x48b9e962, 0x88cd00c4, 0xe533e9a3, 0x7fc76fad, 0x5e0ce6e5,
	0xd3189b25, 0x1dba77ae, 0x7e23bc6f, 0xc8214b8a, 0xeadaea47, 0x53b428d7, 0xaa80d056, 0x4cf20a65,
]);
const MASK_S_HI = 0xaaaaaaaa, MASK_S_LO = 0xaaa00000; // 0xaaaaaaaaaaa00000
const MASK_L_HI = 0x92492492, MASK_L_LO = 0x49249000; // 0x9249249249249000

// cut returns the length of the next chunk at the start of data, which
// holds the next min(remaining, MAX_CHUNK_SIZE) bytes of the file.
export function cut(data) {
	let n = data.length;
	if (n <= MIN_CHUNK_SIZE) return n;
	let normal = NORMAL_CHUNK_SIZE;
	if (n >= MAX_CHUNK_SIZE) n = MAX_CHUNK_SIZE;
	else if (n <= NORMAL_CHUNK_SIZE) normal = n;
	let hi = 0, lo = 0, mhi = MASK_S_HI, mlo = MASK_S_LO;
	for (let i = MIN_CHUNK_SIZE; i < n; i++) {
		if (i === normal) { mhi = MASK_L_HI; mlo = MASK_L_LO; }
		// fp = (fp << 1) + G[data[i]], mod 2^64, in two 32-bit halves
		const g = data[i] << 1;
		hi = ((hi << 1) | (lo >>> 31)) >>> 0;
		lo = (lo << 1) >>> 0;
		const l = lo + GEAR[g + 1];
		lo = l >>> 0;
		hi = (hi + GEAR[g] + (l > 0xffffffff ? 1 : 0)) >>> 0;
		if ((hi & mhi) === 0 && (lo & mlo) === 0) return i;
	}
	return n;
}

// Chunker cuts a stream into chunks: push bytes as they arrive, take the
// chunks that are complete, and call end() for the last ones. It keeps one
// buffer of 2 x MAX_CHUNK_SIZE, compacted once per 8 MiB, as Go's Chunker.
export class Chunker {
	#buf = new Uint8Array(2 * MAX_CHUNK_SIZE);
	#start = 0;
	#end = 0;

	// push adds data and returns the chunks now complete (copies).
	push(data) {
		const out = [];
		for (let off = 0; off < data.length;) {
			if (this.#end === this.#buf.length) {
				this.#buf.copyWithin(0, this.#start, this.#end);
				this.#end -= this.#start;
				this.#start = 0;
			}
			const n = Math.min(data.length - off, this.#buf.length - this.#end);
			this.#buf.set(data.subarray(off, off + n), this.#end);
			this.#end += n;
			off += n;
			while (this.#end - this.#start >= MAX_CHUNK_SIZE) out.push(this.#take());
		}
		return out;
	}

	// end returns the remaining chunks; the Chunker is then empty.
	end() {
		const out = [];
		while (this.#end > this.#start) out.push(this.#take());
		return out;
	}

	#take() {
		const avail = this.#buf.subarray(this.#start, Math.min(this.#end, this.#start + MAX_CHUNK_SIZE));
		const n = cut(avail);
		this.#start += n;
		return avail.slice(0, n);
	}
}
