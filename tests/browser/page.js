// SPDX-License-Identifier: BSD-3-Clause
// page.js - what runs inside the Chromium page, after the JsSIP bundle.
//
// window.confab.start(cfg) makes one JsSIP user agent (cfg: id, ws, uri,
// password, reject = the status for incoming calls); window.confab.message
// sends a MESSAGE. Everything that happens is reported to bridge.js through
// window.confabReport(event) (a playwright binding), one object per event.
/* global JsSIP */
(function () {
	'use strict';
	const uas = {};

	function report(ev) {
		window.confabReport(JSON.stringify(ev));
	}

	function start(cfg) {
		const socket = new JsSIP.WebSocketInterface(cfg.ws);
		const ua = new JsSIP.UA({
			sockets: [socket],
			uri: cfg.uri,
			password: cfg.password,
			register: true,
			register_expires: 600,
			session_timers: false,
			connection_recovery_min_interval: 30,
			connection_recovery_max_interval: 60,
		});
		uas[cfg.id] = ua;
		const id = cfg.id;
		ua.on('connected', () => report({ ev: 'connected', id }));
		ua.on('disconnected', (e) => report({
			ev: 'disconnected', id,
			code: e && e.code, reason: e && e.reason,
		}));
		ua.on('registered', (e) => report({
			ev: 'registered', id,
			status: e.response.status_code,
			contact: e.response.getHeader('Contact'),
		}));
		ua.on('registrationFailed', (e) => report({
			ev: 'registrationFailed', id, cause: e.cause,
			status: e.response ? e.response.status_code : 0,
		}));
		ua.on('newMessage', (e) => {
			if (e.originator !== 'remote')
				return;
			report({
				ev: 'message', id,
				from: e.request.from.uri.toString(),
				body: e.request.body,
				via: e.request.getHeader('Via'),
			});
		});
		ua.on('newRTCSession', (e) => {
			if (e.originator !== 'remote')
				return;
			const req = e.request;
			// No WebRTC media here: every incoming call is rejected.
			e.session.terminate({ status_code: cfg.reject || 488 });
			report({
				ev: 'invite', id,
				from: req.from.uri.toString(),
				via: req.getHeader('Via'),
				record_route: req.getHeaders('Record-Route'),
				rejected: cfg.reject || 488,
			});
		});
		ua.start();
	}

	function message(id, target, text) {
		uas[id].sendMessage(target, text, {
			eventHandlers: {
				succeeded: (e) => report({
					ev: 'message_sent', id,
					status: e.response.status_code,
				}),
				failed: (e) => report({
					ev: 'message_failed', id, cause: e.cause,
					status: e.response ? e.response.status_code : 0,
				}),
			},
		});
	}

	// A call with a fake microphone (Chromium's
	// --use-fake-device-for-media-stream): no media is expected to flow,
	// the signalling is what is tested.
	function call(id, target) {
		uas[id].call(target, {
			mediaConstraints: { audio: true, video: false },
			pcConfig: { iceServers: [] },
			eventHandlers: {
				confirmed: () => report({ ev: 'call_confirmed', id }),
				ended: (e) => report({
					ev: 'call_ended', id,
					originator: e.originator, cause: e.cause,
					method: e.message ? e.message.method : null,
					via: e.message && e.message.getHeader ?
					     e.message.getHeader('Via') : null,
				}),
				failed: (e) => report({
					ev: 'call_failed', id,
					originator: e.originator, cause: e.cause,
					status: e.message && e.message.status_code ?
					        e.message.status_code : 0,
				}),
			},
		});
	}

	function stop(id) {
		if (uas[id])
			uas[id].stop();
	}

	window.confab = { start, message, call, stop };
	window.confabReport(JSON.stringify({
		ev: 'page', origin: location.origin,
		user_agent: JsSIP.C.USER_AGENT,
	}));
})();
