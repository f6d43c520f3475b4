// The training chat page (crisisd/sandbox/trainer.py). Served as a file: the page's
// Content-Security-Policy forbids inline script. Bot messages arrive already sanitised
// by the server ("html"); everything else is put in place as text.
(() => {
  "use strict";
  const POLL_MS = 1000;
  const base = document.body.dataset.base || "./";
  const $ = (id) => document.getElementById(id);
  const el = {
    messenger: $("messenger"), who: $("who"), log: $("log"), bot: $("bot-name"),
    playing: $("playing"), text: $("text"), composer: $("composer"), toast: $("toast"),
    error: $("error"), status: $("status"), quick: $("quick"), replyKb: $("reply-kb"),
    share: $("share"),
  };
  const st = {
    roster: {messengers: [], users: []}, messenger: "", chatId: "", rev: "",
    toasts: null, timer: 0, toastTimer: 0, generation: 0, polling: false, again: false,
    stick: true,
  };

  const api = async (path, body) => {
    const init = body === undefined
      ? {cache: "no-store"}
      : {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    const r = await fetch(base + path, init);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
    return data;
  };

  const showError = (message) => {
    el.error.textContent = message || "";
    el.error.hidden = !message;
  };

  const showToast = (text, alert) => {
    el.toast.textContent = text;
    el.toast.classList.toggle("alert", !!alert);
    el.toast.hidden = false;
    clearTimeout(st.toastTimer);
    st.toastTimer = setTimeout(() => { el.toast.hidden = true; }, alert ? 6000 : 3500);
  };

  const label = (u) => {
    const title = u.title_fa ? " — " + u.title_fa : "";
    const en = u.name_en && u.name_en !== u.name_fa ? " (" + u.name_en + ")" : "";
    return u.name_fa + en + title;
  };

  const GROUPS = [
    ["officer", "مسئولان روابط عمومی — PR officers"],
    ["contact", "کارکنان و گیرندگان — staff and recipients"],
    ["newcomer", "تازه‌واردها، هنوز وصل نشده — newcomers, not connected yet"],
    ["other", "دیگر کاربران — other users"],
  ];

  const fillMessengers = () => {
    el.messenger.replaceChildren(...st.roster.messengers.map((m) => {
      const o = new Option(m.label, m.name);
      return o;
    }));
    if (st.messenger) el.messenger.value = st.messenger;
    st.messenger = el.messenger.value;
  };

  const fillUsers = () => {
    const mine = st.roster.users.filter((u) => u.messenger === st.messenger);
    const nodes = [new Option("— برگزینید · choose —", "")];
    for (const [role, title] of GROUPS) {
      const some = mine.filter((u) => u.role === role);
      if (!some.length) continue;
      const group = document.createElement("optgroup");
      group.label = title;
      for (const u of some) {
        const o = new Option(label(u), String(u.chat_id));
        o.dataset.role = u.role;
        group.append(o);
      }
      nodes.push(group);
    }
    el.who.replaceChildren(...nodes);
    el.who.value = mine.some((u) => String(u.chat_id) === st.chatId) ? st.chatId : "";
    st.chatId = el.who.value;
  };

  const remember = () => {
    const q = new URLSearchParams(location.search);
    q.set("m", st.messenger);
    if (st.chatId) q.set("u", st.chatId); else q.delete("u");
    history.replaceState(null, "", "?" + q.toString());
  };

  const player = () => st.roster.users.find(
    (u) => u.messenger === st.messenger && String(u.chat_id) === st.chatId);

  const drawHeader = () => {
    const m = st.roster.messengers.find((x) => x.name === st.messenger);
    const bot = m && m.bot ? m.bot.first_name + " · @" + m.bot.username : "—";
    el.bot.textContent = bot;
    const u = player();
    el.playing.textContent = u
      ? "شما: " + label(u) + (u.role === "officer" ? " · مسئول روابط عمومی" : "")
      : "";
    const ready = !!st.chatId;
    el.text.disabled = !ready;
    $("send").disabled = !ready;
    for (const b of el.quick.querySelectorAll("button")) b.disabled = !ready;
  };

  const nearBottom = () => el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 80;

  const drawButton = (msg, b) => {
    if (b.url) {
      const a = document.createElement("a");
      a.className = "kb-btn link";
      a.href = b.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      a.textContent = b.text + " ↗";
      return a;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "kb-btn";
    button.textContent = b.text;
    button.dir = "auto";
    if (b.data === undefined) {
      button.disabled = true;
      return button;
    }
    button.dataset.data = b.data;
    button.addEventListener("click", () => press(msg.id, b.data, button));
    return button;
  };

  const drawMessage = (msg) => {
    const item = document.createElement("div");
    item.className = "msg " + msg.from;
    item.dataset.id = String(msg.id);
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    const text = document.createElement("div");
    text.className = "text";
    text.dir = "auto";
    // Built by the server from escaped text and a few bare tags (b, i, u, s, a, code, pre,
    // blockquote, span.spoiler), as the messenger's app shows the message.
    text.innerHTML = msg.html;
    const meta = document.createElement("div");
    meta.className = "meta";
    if (msg.edited) {
      const edited = document.createElement("span");
      edited.className = "edited";
      edited.title = "edited";
      edited.textContent = "ویرایش‌شده · edited";
      meta.append(edited);
    }
    const time = document.createElement("time");
    time.textContent = msg.time;
    meta.append(time);
    if (msg.from === "user") {
      const tick = document.createElement("span");
      tick.className = msg.fetched ? "tick fetched" : "tick";
      tick.textContent = msg.fetched ? "✓✓" : "✓";
      tick.title = msg.fetched
        ? "ربات پیام را گرفت — the bot has it"
        : "در صف، ربات هنوز نگرفته — queued, not fetched by the bot yet";
      meta.append(tick);
    }
    bubble.append(text, meta);
    item.append(bubble);
    if (msg.buttons && msg.buttons.length) {
      const kb = document.createElement("div");
      kb.className = "kb";
      for (const row of msg.buttons) {
        const r = document.createElement("div");
        r.className = "kb-row";
        r.append(...row.map((b) => drawButton(msg, b)));
        kb.append(r);
      }
      item.append(kb);
    }
    return item;
  };

  // The bot's reply keyboard: a "share my number" button while the bot offers one.
  const drawReplyKeyboard = (chat) => {
    el.replyKb.hidden = !chat.contact_button;
    el.share.textContent = chat.contact_button || "";
    el.share.disabled = false;
  };

  const drawChat = (chat) => {
    drawReplyKeyboard(chat);
    const stick = st.stick || nearBottom();
    st.stick = false;
    if (!chat.messages.length) {
      const empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "گفت‌وگو خالی است. بنویسید /report یا /help — "
        + "No messages yet: type /report or /help.";
      el.log.replaceChildren(empty);
    } else {
      el.log.replaceChildren(...chat.messages.map(drawMessage));
    }
    if (stick) el.log.scrollTop = el.log.scrollHeight;
  };

  const takeToasts = (chat) => {
    const fresh = chat.toasts.filter((t) => !st.toasts.has(t.id));
    for (const t of chat.toasts) st.toasts.add(t.id);
    const last = fresh[fresh.length - 1];
    if (last) showToast(last.text, last.alert);
  };

  // One poll at a time; a poll asked for while one is running follows right after it.
  const poll = async () => {
    clearTimeout(st.timer);
    if (st.polling) { st.again = true; return; }
    st.polling = true;
    const generation = st.generation;
    try {
      if (st.chatId) {
        const q = new URLSearchParams({messenger: st.messenger, chat_id: st.chatId});
        const chat = await api("api/chat?" + q.toString());
        el.status.hidden = true;
        if (generation === st.generation) { // else the user was switched meanwhile
          if (st.toasts === null) st.toasts = new Set(chat.toasts.map((t) => t.id));
          else takeToasts(chat);
          if (chat.rev !== st.rev) {
            st.rev = chat.rev;
            drawChat(chat);
          }
        }
      }
    } catch (e) {
      el.status.hidden = false; // the daemon may be restarting: keep trying
    } finally {
      st.polling = false;
    }
    const delay = st.again || generation !== st.generation ? 100 : POLL_MS;
    st.again = false;
    st.timer = setTimeout(poll, delay);
  };

  const soon = () => { clearTimeout(st.timer); st.timer = setTimeout(poll, 150); };

  const switchTo = () => {
    st.generation += 1;
    st.rev = "";
    st.toasts = null;
    clearTimeout(st.timer);
    st.stick = true;
    el.toast.hidden = true;
    showError("");
    remember();
    drawHeader();
    el.replyKb.hidden = true;
    if (!st.chatId) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = "کسی را که نقشش را بازی می‌کنید برگزینید. — Pick who you play.";
      el.log.replaceChildren(p);
    }
    poll();
  };

  const send = async (text) => {
    if (!st.chatId || !text.trim()) return;
    showError("");
    try {
      await api("api/send", {messenger: st.messenger, chat_id: Number(st.chatId), text});
      el.log.scrollTop = el.log.scrollHeight;
    } catch (e) {
      showError(e.message);
    }
    soon();
  };

  const press = async (messageId, data, button) => {
    showError("");
    button.disabled = true;
    button.classList.add("pressed");
    try {
      await api("api/press", {
        messenger: st.messenger, chat_id: Number(st.chatId), message_id: messageId, data,
      });
    } catch (e) {
      showError(e.message);
      button.disabled = false;
      button.classList.remove("pressed");
    }
    soon();
  };

  el.share.addEventListener("click", async () => {
    showError("");
    el.share.disabled = true;
    try {
      await api("api/contact", {messenger: st.messenger, chat_id: Number(st.chatId)});
    } catch (e) {
      showError(e.message);
      el.share.disabled = false;
    }
    soon();
  });
  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el.text.value;
    el.text.value = "";
    send(text);
    el.text.focus();
  });
  // As in the messenger's app: a spoiler shows on a tap, an expandable quote opens.
  el.log.addEventListener("click", (event) => {
    const hidden = event.target.closest(".spoiler, blockquote.expandable");
    if (hidden) hidden.classList.toggle("open");
  });
  el.quick.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-text]");
    if (b) send(b.dataset.text);
  });
  el.messenger.addEventListener("change", () => {
    st.messenger = el.messenger.value;
    st.chatId = "";
    fillUsers();
    switchTo();
  });
  el.who.addEventListener("change", () => {
    st.chatId = el.who.value;
    switchTo();
  });
  $("who-form").addEventListener("submit", (event) => event.preventDefault());

  const start = async () => {
    const q = new URLSearchParams(location.search);
    st.messenger = q.get("m") || "";
    st.chatId = q.get("u") || "";
    try {
      st.roster = await api("api/users");
    } catch (e) {
      showError("فهرست کاربران نیامد — could not load the users: " + e.message);
      setTimeout(start, 2000);
      return;
    }
    fillMessengers();
    fillUsers();
    document.body.dataset.ready = "1";
    switchTo();
  };
  start();
})();
