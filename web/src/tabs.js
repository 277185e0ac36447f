// tabs.js - tabs after the WAI-ARIA Authoring Practices "tabs" pattern:
// role=tablist/tab/tabpanel, one tab in the Tab order (roving tabindex),
// Left/Right arrows move and select (wrapping), Home/End go to the ends.
// Panels are built up front, so selection follows focus.

import { h, uid } from './dom.js';

/**
 * tabs({label, items: [{key, label, panel}], selected}) ->
 *   {el, select(key, {focus})}
 * panel is a node placed inside the role=tabpanel element.
 */
export function tabs({ label, items, selected, onSelect }) {
  const base = uid('tabs');
  const list = h('div', { class: 'tablist', role: 'tablist', 'aria-label': label });
  const panels = h('div', { class: 'tabpanels' });
  const entries = items.map((it) => {
    const tabId = `${base}-${it.key}-tab`;
    const panelId = `${base}-${it.key}-panel`;
    const tab = h('button', { type: 'button', class: 'tab', role: 'tab', id: tabId, 'aria-controls': panelId }, it.label);
    const panel = h('div', { class: 'tabpanel', role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, tabindex: '0' }, it.panel);
    list.append(tab);
    panels.append(panel);
    return { key: it.key, tab, panel };
  });

  function select(key, { focus = false } = {}) {
    for (const e of entries) {
      const on = e.key === key;
      e.tab.setAttribute('aria-selected', on ? 'true' : 'false');
      e.tab.tabIndex = on ? 0 : -1;
      e.panel.hidden = !on;
      if (on && focus) e.tab.focus();
    }
    if (onSelect) onSelect(key);
  }

  entries.forEach((e, i) => {
    e.tab.addEventListener('click', () => select(e.key));
    e.tab.addEventListener('keydown', (ev) => {
      let to = null;
      if (ev.key === 'ArrowRight') to = (i + 1) % entries.length;
      else if (ev.key === 'ArrowLeft') to = (i - 1 + entries.length) % entries.length;
      else if (ev.key === 'Home') to = 0;
      else if (ev.key === 'End') to = entries.length - 1;
      if (to === null) return;
      ev.preventDefault();
      select(entries[to].key, { focus: true });
    });
  });

  select(selected && entries.some((e) => e.key === selected) ? selected : entries[0].key);
  return { el: h('div', { class: 'tabs' }, list, panels), select };
}
