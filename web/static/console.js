// Entry point of the web console (docs/CONSOLE.md). It signs in to Vault
// (console-signin.js), checks the sign-in with the gateway, and shows the
// pages (console-pages.js, console-matters.js, console-audit.js) from the gateway's admin API (console-api.js).
// Text from anywhere goes in with textContent only, never as markup.
//
// State lives in this module's variables only: a reload or a new tab
// starts signed out; signing out revokes the Vault token and drops the
// session and everything shown.
import { Vault, signIn, answerCallback, SignInError } from './console-signin.js';
import { API } from './console-api.js';
import { el, devicesPage, overviewPage } from './console-pages.js';
import { loadMatters, members, mattersPage, matterDetail } from './console-matters.js';
import { auditPage } from './console-audit.js';

const root = document.documentElement;
const main = document.getElementById('app');
const nav = document.getElementById('nav');
let session = null;
let api = null;

function view(name, ...children) {
	root.dataset.view = name;
	main.replaceChildren(...children);
}

function message(text, cls = 'note') {
	return el('p', { class: cls, id: 'message' }, text);
}

function signInView(note, cls) {
	nav.replaceChildren();
	const cfg = root.dataset;
	if (!cfg.vault) {
		view('unconfigured', message('This gateway does not name a Vault address for the console (vault.address or console.vault_address in its configuration).', 'error'));
		return;
	}
	const vault = new Vault(cfg.vault, cfg.oidcMount || 'oidc', cfg.tokenRole || 'mattersync');
	const button = el('button', { type: 'button', id: 'signin' }, 'Sign in with your firm\'s account');
	const progress = el('p', { id: 'progress', class: 'note' });
	const codeSlot = el('div', { id: 'code-slot' });
	button.addEventListener('click', () => {
		button.disabled = true;
		const ui = {
			openWindow: () => window.open('', 'mattersync-signin', 'popup,width=520,height=720'),
			progress: (t) => { progress.textContent = t; },
			askCode: (name) => new Promise((resolve) => {
				root.dataset.view = 'mfa';
				const input = el('input', { id: 'code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9 ]*', required: true, maxlength: '9' });
				const form = el('form', { id: 'mfa' }, el('label', { for: 'code' }, `Code from your authenticator app (${name})`), input, el('button', { type: 'submit' }, 'Continue'));
				form.addEventListener('submit', (ev) => { ev.preventDefault(); codeSlot.replaceChildren(); resolve(input.value); });
				codeSlot.replaceChildren(form);
				input.focus();
			}),
		};
		signIn(vault, ui).then(checkWithGateway, (e) => {
			signInView(e instanceof SignInError ? e.message : 'The sign-in failed: ' + e.message, 'error');
		});
	});
	view('signin',
		el('h2', {}, 'Sign in'),
		el('p', {}, 'The console is for IT and compliance. Sign in with your firm\'s account; Vault then asks for the code of your authenticator app. Nothing is kept in this browser: a reload or a new tab asks again.'),
		note ? message(note, cls) : '',
		button, progress, codeSlot);
}

async function checkWithGateway(s) {
	api = new API(s);
	let who;
	try {
		who = await api.signIn();
	} catch (e) {
		await s.close();
		api = null;
		if (e.status === 403) {
			signInView('You signed in, but the console is only for IT and compliance (members of mattersync-admins): the gateway refused it. Nothing was opened, and you are signed out. Lawyers use their mattersync folders; ask IT if you need the console.', 'error refused');
			root.dataset.view = 'refused';
			return;
		}
		signInView('The gateway refused the sign-in: ' + e.message, 'error');
		return;
	}
	session = s;
	session.user = who.user;
	session.entity = who.entity;
	session.screened = Array.isArray(who.screened) ? who.screened : [];
	shell();
	show('overview');
}

function shell() {
	const pages = [['overview', 'Overview'], ['matters', 'Matters'], ['devices', 'People and devices'], ['audit', 'Audit']];
	const buttons = pages.map(([id, label]) => {
		const b = el('button', { type: 'button', 'data-page': id }, label);
		b.addEventListener('click', () => show(id));
		return b;
	});
	const out = el('button', { type: 'button', id: 'signout' }, 'Sign out');
	out.addEventListener('click', signOut);
	nav.replaceChildren(...buttons, el('span', { class: 'who', id: 'who' }, session.user), out);
}

async function show(page) {
	if (!session) return;
	for (const b of nav.querySelectorAll('button[data-page]')) b.setAttribute('aria-current', b.dataset.page === page ? 'page' : 'false');
	view('loading', message('Loading…'));
	try {
		if (page === 'audit') {
			view('audit', auditPage(api, session.screened));
		} else if (page === 'devices') {
			view('devices', devicesPage(await api.devices()));
		} else if (page === 'matters') {
			const s = session;
			const [matters, holds] = await Promise.all([loadMatters(s, root.dataset.kvMount || 'mattersync'), api.holds()]);
			view('matters', mattersPage(matters, holds, s.screened, {
				open: async (id, title) => {
					const [m, hold, history] = await Promise.all([members(s, id), api.hold(id), api.holdHistory(id)]);
					return matterDetail(id, title, m, hold, history);
				},
			}));
		} else {
			const [devices, holds] = await Promise.all([api.devices(), api.holds()]);
			view('overview', overviewPage({ devices, holds }, { onVerify: () => api.verifyAudit() }));
		}
	} catch (e) {
		if (e instanceof SignInError || e.status === 401) {
			await signOut(null, 'Your sign-in ended (' + e.message + '): sign in again.');
			return;
		}
		view('error', message('The gateway refused this page: ' + e.message + (e.requestID ? ` (request ${e.requestID})` : ''), 'error'));
	}
}

async function signOut(_ev, note = 'Signed out: the Vault token is revoked and nothing of the session is left in this page.') {
	const s = session;
	session = null;
	api = null;
	main.replaceChildren();
	if (s) await s.close();
	signInView(note);
}

if (location.pathname === '/console/callback') {
	root.dataset.view = 'callback';
	main.replaceChildren(message('Signed in at your identity provider: back to the console window.'));
	answerCallback();
} else {
	signInView();
}
root.dataset.consoleReady = 'true';
