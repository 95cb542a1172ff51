// Package format is mattersync's at-rest format, shared by the agent and
// the admin tool, specified in docs/FORMAT.md.
//
// A matter's epoch key yields the subkeys of that epoch (DeriveKeys); its
// epoch 1 key yields the file-ID key, stable across rotations
// (DeriveFileIDKey). A file is cut into content-defined chunks (Chunker),
// each named by a keyed hash (Keys.ChunkID), compressed when that pays and
// sealed with AES-256-GCM (Codec.SealChunk). A file version is a Manifest
// sealed for one file ID and version (Keys.SealManifest). Readers learn the
// epoch from the clear header (ParseHeader) and open with the Open
// functions, which check everything before returning a byte. Paths from
// manifests reach the disk only through ValidatePath or SafeLocalPath.
//
// Only standard-library cryptography is used, so the package works in
// Go's FIPS 140-3 mode (GODEBUG=fips140=on).
package format

//go:generate go test -run ^TestVectors$ -update
