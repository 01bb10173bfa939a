#!/usr/bin/env node
// SPDX-License-Identifier: BSD-3-Clause
// bridge.js - JsSIP in Debian's headless Chromium, driven line by line.
//
// Usage: node bridge.js --origin URL --tmp DIR --control SOCKET [--secs N]
//
// Bundles node_modules/jssip (CommonJS) into one script with esbuild,
// launches /usr/bin/chromium through playwright-core (never a downloaded
// browser), serves an empty page at URL from playwright's router (so that
// the page's WebSocket Origin is URL's origin, without any HTTP server) and
// loads the bundle and page.js into it.
//
// It listens on the UNIX socket SOCKET for one driver connection, which
// sends one JSON command a line: {"cmd":"start", id, ws, uri, password,
// reject}, {"cmd":"message", id, target, text}, {"cmd":"call", id,
// target}, {"cmd":"stop", id},
// {"cmd":"quit"} (closing the connection = quit), and gets back one JSON
// event a line ({"ev": ...}, see page.js). Every event also goes to stdout,
// with the page's console (JsSIP's debug log) as "console" events. Exits
// after --secs (default 60) whatever happens.
// (Not stdin: with Chromium started, node read a piped stdin only when it
// closed, so commands came too late; a socket has no such trouble.)
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const readline = require('readline');

const HERE = __dirname;
const CHROMIUM = process.env.CONFAB_CHROMIUM || '/usr/bin/chromium';

function arg(name, dflt) {
	const i = process.argv.indexOf('--' + name);
	return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

let driver = null; // the driver's connection, once there

function emit(ev) {
	const line = JSON.stringify(ev) + '\n';
	process.stdout.write(line);
	if (driver && ev.ev !== 'console')
		driver.write(line);
}

async function bundle(out) {
	const esbuild = require(path.join(HERE, 'node_modules', 'esbuild'));
	await esbuild.build({
		entryPoints: [path.join(HERE, 'node_modules', 'jssip', 'lib',
		                        'JsSIP.js')],
		bundle: true, format: 'iife', globalName: 'JsSIP',
		platform: 'browser', outfile: out, logLevel: 'warning',
	});
}

async function command(page, line, done) {
	if (!line.trim())
		return;
	try {
		const c = JSON.parse(line);
		if (c.cmd === 'start')
			await page.evaluate((cfg) => window.confab.start(cfg), c);
		else if (c.cmd === 'message')
			await page.evaluate((m) => window.confab.message(
				m.id, m.target, m.text), c);
		else if (c.cmd === 'call')
			await page.evaluate((m) => window.confab.call(m.id, m.target),
			                    c);
		else if (c.cmd === 'stop')
			await page.evaluate((id) => window.confab.stop(id), c.id);
		else if (c.cmd === 'quit')
			done();
		else
			emit({ ev: 'error', error: 'unknown command ' + c.cmd });
	} catch (e) {
		emit({ ev: 'error', error: String(e), line });
	}
}

async function main() {
	const origin = arg('origin', 'http://confab.test');
	const tmp = arg('tmp');
	const control = arg('control');
	const secs = Number(arg('secs', '60'));
	if (!tmp || !control)
		throw new Error('--tmp DIR and --control SOCKET are required');
	if (!fs.existsSync(CHROMIUM))
		throw new Error(CHROMIUM + ' not found (package chromium)');
	setTimeout(() => {
		emit({ ev: 'fatal', error: 'time limit of ' + secs + ' s' });
		process.exit(2);
	}, secs * 1000).unref();

	const js = path.join(tmp, 'jssip-bundle.js');
	await bundle(js);
	const { chromium } = require(path.join(HERE, 'node_modules',
	                                       'playwright-core'));
	const browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
		       '--no-first-run', '--disable-background-networking',
		       '--disable-component-update', '--disable-sync',
		       '--ignore-certificate-errors',
		       // a fake microphone, no permission prompt (calls)
		       '--use-fake-device-for-media-stream',
		       '--use-fake-ui-for-media-stream',
		       // The page's origin is not on the loopback: without this,
		       // Chromium's Local Network Access checks block its
		       // WebSocket to 127.0.0.1 (ERR_BLOCKED_BY_LOCAL_NETWORK_...).
		       '--disable-features=LocalNetworkAccessChecks,' +
		       'BlockInsecurePrivateNetworkRequests'],
	});
	const context = await browser.newContext({ ignoreHTTPSErrors: true });
	const page = await context.newPage();
	page.on('console', (m) => emit({ ev: 'console', text: m.text() }));
	page.on('pageerror', (e) => emit({ ev: 'pageerror', error: String(e) }));
	await page.exposeBinding('confabReport', (_src, s) => emit(JSON.parse(s)));
	await page.route('**/*', (route) => route.fulfill({
		status: 200, contentType: 'text/html',
		body: '<!doctype html><title>confab</title><body></body>',
	}));
	await page.goto(origin + '/');
	await page.addScriptTag({ path: js });
	await page.evaluate(() => JsSIP.debug.enable('JsSIP:*'));
	await page.addScriptTag({ path: path.join(HERE, 'page.js') });
	const info = await page.evaluate(() => ({
		origin: location.origin, user_agent: JsSIP.C.USER_AGENT,
	}));

	let done;
	const finished = new Promise((resolve) => { done = resolve; });
	const server = net.createServer((conn) => {
		if (driver) {
			conn.destroy();
			return;
		}
		driver = conn;
		conn.on('error', () => done());
		const rl = readline.createInterface({ input: conn });
		rl.on('line', (line) => command(page, line, done));
		rl.on('close', () => done());
		emit({ ev: 'ready', ...info });
	});
	server.listen(control, () => emit({ ev: 'listening' }));
	await finished;
	server.close();
	await browser.close();
	emit({ ev: 'closed' });
	if (driver)
		driver.end();
}

main().then(() => process.exit(0), (e) => {
	emit({ ev: 'fatal', error: String(e && e.stack || e) });
	process.exit(1);
});
