// Pages whose data arrives with later issues: clearly marked, so nobody mistakes them for "no problems".
const PAGES = {
  findings: {
    title: 'Findings & alerts',
    items: [
      ['Findings timeline with evidence', 'Diagnoser verdicts (retransmit storms, connection refusals, slow endpoints) with the kernel evidence behind each.', 'issue 9'],
      ['Alerts', 'In-progress and resolved alerts, webhooks.', 'issue 9'],
    ],
  },
  rca: {
    title: 'Root cause',
    items: [['Root-cause ranking', 'The faulty interface highlighted on the service map and the affected call chain drawn.', 'issue 9']],
  },
  business: {
    title: 'Business',
    items: [['Business metrics', 'Events captured by uprobes (orders, payments…) joined to the requests that produced them.', 'issue 5']],
  },
  inject: {
    title: 'Fault injection',
    items: [['Fault injection panel', 'List, create (scope + TTL) and stop injected faults: drops, delays, resets, errors.', 'issue 7']],
  },
};

export function mount(el, _params, page) {
  const p = PAGES[page];
  el.innerHTML = `<h2 style="margin:4px 0 12px">${p.title}</h2>` +
    p.items.map(([h, text, issue]) => `<div class="placeholder"><h3>${h}</h3>${text}<br><span class="issue">coming with ${issue}</span></div>`).join('');
  return () => {};
}
