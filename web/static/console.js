// Entry point of the web console. This slice only loads the decoder and
// says so: sign-in through Vault and the pages come in later slices
// (docs/OPERATIONS.md, "Not yet"). Text goes in with textContent only, never
// as markup.
import { FORMAT_VERSION } from './format.js';

const status = document.getElementById('status');
status.textContent = `Decoder for format version ${FORMAT_VERSION} loaded. Sign-in and the console's pages are not built yet.`;
document.documentElement.dataset.consoleReady = 'true';
