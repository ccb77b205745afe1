// Drive www/socket_client.html in headless Chromium against a running server:
//   node tests/browser/page.mjs SCENARIO http://127.0.0.1:PORT/ [SCREENSHOT.png]
// SCENARIO is one of:
//   tutorial   a person's session with the tutorial's commands, on a phone-wide
//              screen too; Quit, Connect, and a "bye" that stays closed
//   chat       two pages in one room (the server runs with --mode chat)
//   imitation  in the room, a member's message with a newline that imitates
//              the room's own lines stays one message item (--mode chat);
//              with a SCREENSHOT, also SCREENSHOT-360.png at phone width
//   flood      2,000 messages of 1 KB through the page's own Send path
//   reconnect  the page comes back by itself after the server restarts; it
//              asks for the restart on stdout ("stop the server", "start the
//              server") and waits for "stopped" and "started" on stdin
//   inspect    (--inspect) the inspector open, the tutorial page in a second
//              tab sends "hello": within 1 s the inspector shows its row, the
//              handshake done, and the frame (opcode 1, masked, its key,
//              "hello"), which is then drawn as RFC 6455 §5.2 draws a frame
//   inspect-chat, inspect-refused, inspect-timeout
//              (--inspect; --mode chat; -; --idle-timeout 1) the inspector
//              beside a chat of two, a handshake refused for its Origin, a
//              client that never answers a ping: for docs/inspect.md
//   inspect-load  (--inspect) the inspector while the test runs 1,000
//              clients: it asks for them ("start the load"), waits for
//              "loaded", and measures how long the page's main thread is busy
// Exits 0 when the scenario works end to end, 1 (with the page's log) when it
// does not. tests/browser.rs starts the server and runs this.

import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect as tcp } from "node:net";

const [scenario, url, screenshot] = process.argv.slice(2);
const SCENARIOS = {
  tutorial, chat, imitation, flood, reconnect,
  inspect, "inspect-chat": inspectChat, "inspect-refused": inspectRefused,
  "inspect-timeout": inspectTimeout, "inspect-load": inspectLoad,
};
if (!SCENARIOS[scenario]) {
  console.error("usage: node page.mjs " + Object.keys(SCENARIOS).join("|") + " URL [SCREENSHOT]");
  process.exit(2);
}

const profile = mkdtempSync(join(tmpdir(), "socket-server-chromium-"));
// Flags that work as root and headless: no sandbox (root), no GPU, and no
// background networking, which a machine with no outside network refuses
// many times over at every start.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 900, height: 640 },
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

const errors = [];
const pages = [];
try {
  await SCENARIOS[scenario]();
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  console.log(scenario + " ok:\n" + (await logOf(pages[0])));
} catch (e) {
  console.error(scenario + " failed: " + e.message);
  for (const page of pages) {
    console.error("page log:\n" + (await logOf(page).catch(() => "?")));
  }
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  process.exit(); // with process.exitCode; stdin, if read, would keep node waiting
}

// ---- the scenarios --------------------------------------------------------

async function tutorial() {
  const page = await open(url);
  await waitForLog(page, "Welcome - status 1");
  await expectState(page, "OPEN");

  // An empty message is not sent: a hint says why.
  await page.click("#send");
  await waitForText(page, "#hint", "Type a message first.");
  if ((await page.locator("#log .sent").count()) !== 0) throw new Error("an empty message was sent");

  // Type and press Enter, as a person would.
  for (const [sent, expected] of [
    ["hello world", "Received: You have entered: hello world"],
    ["<b>not bold</b>", "Received: You have entered: <b>not bold</b>"],
    ["time", "Received: The time is "],
    ["age", "Received: I have been running for "],
  ]) {
    await say(page, sent);
    await waitForLog(page, expected);
  }
  // The Send button works too, and the box is emptied after sending.
  await page.fill("#msg", "clicked");
  await page.click("#send");
  await waitForLog(page, "Received: You have entered: clicked");
  if ((await page.inputValue("#msg")) !== "") throw new Error("the box was not emptied");
  // Replies are text, never markup.
  if ((await page.locator("#log b").count()) !== 0) throw new Error("a reply was rendered as HTML");
  // Sent, received and system lines look different, and each has a time.
  await expectLine(page, ".sent", "Sent: hello world");
  await expectLine(page, ".received", "Received: You have entered: hello world");
  await expectLine(page, ".system", "Welcome - status 1");
  const untimed = await page.locator("#log > div:not(:has(time))").count();
  if (untimed) throw new Error(untimed + " log lines have no time");
  const colours = await page.evaluate(() =>
    [".sent", ".received", ".system"].map((kind) =>
      getComputedStyle(document.querySelector("#log " + kind)).color));
  if (new Set(colours).size !== 3) throw new Error("sent, received and system look alike: " + colours);
  if (screenshot) await page.screenshot({ path: screenshot });

  // On a phone: a long word wraps and nothing scrolls sideways.
  await page.setViewportSize({ width: 360, height: 640 });
  await say(page, "w".repeat(300));
  await waitForLog(page, "Received: You have entered: www");
  const overflow = await page.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 0) throw new Error("at 360 px the page is " + overflow + " px too wide");

  // "bye": the server says Goodbye! and closes with 1000; the page stays
  // closed, with Send disabled, until Connect is pressed.
  await say(page, "bye");
  await waitForLog(page, "Received: Goodbye!");
  await waitForLog(page, "Disconnected - status 3 (CLOSED), code 1000");
  await expectState(page, "CLOSED");
  await page.click("#connect");
  await waitForCount(page, "Welcome - status 1", 2);
  await expectState(page, "OPEN");

  // Quit has its own words, not the server's "Goodbye!", and no reconnecting.
  await page.click("#quit");
  await waitForLog(page, "You quit; closing the connection.");
  await waitForCount(page, "code 1000", 2);
  await page.waitForTimeout(1500);
  if ((await logOf(page)).includes("Reconnecting")) throw new Error("it reconnected after Quit");
  await expectState(page, "CLOSED");
}

async function chat() {
  const alice = await open(url);
  await waitForLog(alice, "You joined the room as ");
  const bob = await open(url);
  await waitForLog(bob, "You joined the room as ");
  await waitForLog(alice, " joined"); // bob, under his short id

  await say(alice, "/nick alice");
  await waitForLog(bob, " is now alice");
  await say(bob, "/nick bob");
  await waitForLog(alice, " is now bob");

  // Everyone hears a message, with who said it; the sender's own is marked.
  await say(alice, "hello bob <b>and all</b>");
  await waitForLog(bob, "alice: hello bob <b>and all</b>");
  await waitForLog(alice, "alice: hello bob <b>and all</b>");
  await expectLine(bob, ".received", "alice: hello bob");
  await expectLine(alice, ".own", "alice: hello bob");
  await say(bob, "hi alice");
  await waitForLog(alice, "bob: hi alice");
  if ((await alice.locator("#log b").count()) !== 0) throw new Error("a message was rendered as HTML");

  // Who is online, in the side list and through /who.
  await waitForText(alice, "#online", "alice (you)");
  await waitForText(alice, "#online", "bob");
  await waitForText(bob, "#online", "bob (you)");
  await say(bob, "/who");
  await waitForLog(bob, "Online: ");
  const who = await lastLine(bob);
  if (!who.includes("alice") || !who.includes("bob")) throw new Error("/who said " + who);
  // The tutorial's commands still answer, to the one who asked.
  await say(bob, "/age");
  await waitForLog(bob, "I have been running for ");
  if ((await logOf(alice)).includes("I have been running for ")) throw new Error("alice heard bob's /age");
  // A bad nickname is refused, to the one who asked.
  await say(bob, "/nick alice");
  await bob.waitForSelector("#log .error");

  if (screenshot) await alice.screenshot({ path: screenshot });

  // Bob quits: alice hears he left, and her list no longer has him.
  await bob.click("#quit");
  await waitForLog(alice, "bob left");
  await alice.waitForFunction(() => !document.getElementById("online").textContent.includes("bob"),
    null, { timeout: 10000 });
}

async function imitation() {
  const alice = await open(url);
  await waitForLog(alice, "You joined the room as ");
  const bob = await open(url);
  await waitForLog(bob, "You joined the room as ");
  const mallory = await open(url);
  await waitForLog(mallory, "You joined the room as ");
  for (const [page, name] of [[alice, "alice"], [bob, "bob"], [mallory, "mallory"]]) {
    await say(page, "/nick " + name);
    await waitForLog(alice, " is now " + name);
  }
  await say(alice, "hello everyone");
  await waitForLog(alice, "alice: hello everyone");
  // A real leave, to set the imitation beside.
  await bob.click("#quit");
  await waitForLog(alice, "bob left");

  // A member need not use this page, whose box holds one line: any client
  // can send a newline. Mallory sends one through her page's own socket.
  const fake = "3:45:12 PM X left";
  const items = () => alice.locator("#log > .message").count();
  const before = await items();
  await mallory.evaluate((text) => socket.send(text), "hi\n" + fake);
  await waitForLog(alice, fake);
  await alice.waitForTimeout(300); // were it split, its other parts too

  const wrong = [];
  const after = await items();
  if (after !== before + 1) wrong.push("message items went from " + before + " to " + after + ", not one more");
  const seen = await alice.evaluate((fake) => {
    // The text node that holds the imitation, and the log line it is in.
    const walk = document.createTreeWalker(document.getElementById("log"), NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walk.nextNode()) && !node.data.includes(fake));
    if (!node) return null;
    const item = node.parentElement.closest("#log > div");
    const range = document.createRange();
    range.setStart(node, node.data.indexOf(fake));
    range.setEnd(node, node.data.indexOf(fake) + fake.length);
    const system = document.querySelector("#log > .system time").getBoundingClientRect();
    const look = (e) => { const s = getComputedStyle(e); return [s.borderLeftWidth, s.backgroundColor, s.fontStyle].join(" "); };
    return {
      inMessage: item.classList.contains("message"),
      text: item.textContent,
      // Where the imitation's line starts, and where the room's own time
      // column ends: peer text must never reach into that column.
      left: range.getClientRects()[0].left,
      timeRight: system.right,
      systemsWithIt: [...document.querySelectorAll(".system")].filter((e) => e.textContent.includes("X left")).length,
      messageLook: look(item),
      systemLook: look(document.querySelector("#log > .system")),
    };
  }, fake);
  if (!seen) throw new Error("alice's log has no " + JSON.stringify(fake));
  if (!seen.inMessage) wrong.push("the imitation is not inside a .message item");
  if (!seen.text.includes("mallory: hi\n" + fake)) wrong.push("the item reads " + JSON.stringify(seen.text));
  if (seen.systemsWithIt) wrong.push(seen.systemsWithIt + " system lines contain \"X left\"");
  if (seen.left < seen.timeRight) {
    wrong.push("the imitation starts at x = " + seen.left.toFixed(0) + ", inside the room's time column (which ends at " +
      seen.timeRight.toFixed(0) + "), where a real line's time is");
  }
  if (seen.messageLook === seen.systemLook) wrong.push("a message and a system line look alike: " + seen.messageLook);
  if (screenshot) await alice.screenshot({ path: screenshot });

  // On a phone, too: nothing scrolls sideways, and the item is still one.
  await alice.setViewportSize({ width: 360, height: 640 });
  const overflow = await alice.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 0) wrong.push("at 360 px the page is " + overflow + " px too wide");
  if (screenshot) await alice.screenshot({ path: screenshot.replace(/\.png$/, "-360.png") });

  if (wrong.length) throw new Error("a message passes for the room's own line:\n  " + wrong.join("\n  "));
  console.log("imitation: one message item, " + JSON.stringify(seen.text));
}

async function flood() {
  const page = await open(url);
  await waitForLog(page, "Welcome - status 1");
  const started = Date.now();
  // Through the page's own Send path: the box, then the form's submit.
  await page.evaluate(() => {
    const box = document.getElementById("msg");
    const form = document.getElementById("form");
    for (let i = 0; i < 2000; i++) {
      box.value = String(i).padStart(4, "0") + " " + "x".repeat(1019); // 1 KB
      form.requestSubmit();
    }
  });
  await waitForLog(page, "Received: You have entered: 1999 xxx", 60000);
  const seconds = (Date.now() - started) / 1000;

  // The log keeps about the last thousand lines, newest last...
  const lines = await page.locator("#log > div").count();
  if (lines > 1000) throw new Error("the log holds " + lines + " lines");
  if (!(await lastLine(page)).includes("You have entered: 1999 ")) throw new Error("the last line is not the last reply");
  // ...and a new line is appended, leaving the others as they are.
  await page.evaluate(() => { window.kept = document.getElementById("log").lastElementChild; });
  await say(page, "one more");
  await waitForLog(page, "Received: You have entered: one more");
  const kept = await page.evaluate(() => window.kept.isConnected);
  if (!kept) throw new Error("a new line rewrote the log");
  console.log("flood: 2000 messages of 1 KB in " + seconds.toFixed(1) + " s; the log holds " + lines + " lines");
}

async function reconnect() {
  const page = await open(url);
  await waitForLog(page, "Welcome - status 1");
  const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const expect = async (word) => {
    const line = await input.next();
    if (line.value !== word) throw new Error("expected " + word + " on stdin, got " + line.value);
  };

  console.log("stop the server");
  await expect("stopped");
  await waitForLog(page, "code 1001 (server shutting down)");
  await waitForLog(page, "Reconnecting in 1 s");
  // While the server is down, the page says which URL it tried and why.
  const ws = url.replace(/^http/, "ws");
  await waitForLog(page, "Could not connect to " + ws + ". Is the server running?");
  await expectState(page, "CLOSED");

  console.log("start the server");
  await expect("started");
  await waitForCount(page, "Welcome - status 1", 2, 20000);
  await expectState(page, "OPEN");
  await say(page, "hello again");
  await waitForLog(page, "Received: You have entered: hello again");
}

// ---- the inspector (--inspect) ---------------------------------------------

async function inspect() {
  const inspector = await openInspector({ width: 1280, height: 900 });
  const tutorial = await open(url);
  await waitForLog(tutorial, "Welcome - status 1");
  // Within a second of "hello" leaving the page: its row, its handshake
  // done, and its frame, masked, with its key.
  const sent = Date.now();
  await say(tutorial, "hello");
  const seen = await inspector.waitForFunction(() => {
    const row = [...document.querySelectorAll("#clients tbody tr:not(.gone)")]
      .find((tr) => tr.querySelector(".handshake").textContent === "true" &&
                    tr.querySelector(".state").textContent === "open");
    const frame = [...document.querySelectorAll('#events li[data-kind="frame"]')]
      .find((li) => /→ in text \(opcode 0x1\), 5 bytes, MASK 1, key( [0-9a-f]{2}){4} "hello"$/.test(li.textContent));
    return row && frame && row.dataset.id === frame.dataset.id && frame.textContent;
  }, null, { timeout: 1000, polling: 20 });
  const took = Date.now() - sent;
  const text = await seen.jsonValue();
  const key = text.match(/key ((?: ?[0-9a-f]{2}){4})/)[1].trim();
  // Drawn: the key in its boxes, and "hello" unmasked byte by byte.
  await inspector.locator('#events li[data-kind="frame"]', { hasText: '"hello"' }).first().click();
  await waitForText(inspector, "#detail", "Masking-key (32)");
  const drawn = await inspector.evaluate(() => ({
    key: document.querySelector("table.frame td.key .value").textContent,
    unmasked: [...document.querySelectorAll("table.xor tr")][3].textContent,
    bits: document.querySelector("table.frame td .bits").textContent,
  }));
  if (drawn.key !== key) throw new Error("the diagram's key is " + drawn.key + ", the list's " + key);
  if (drawn.unmasked !== "XOR = unmasked68656c6c6f") throw new Error("unmasked: " + drawn.unmasked);
  if (drawn.bits !== "1") throw new Error("FIN's box holds " + drawn.bits);
  if (screenshot) await inspector.screenshot({ path: screenshot, fullPage: true });
  console.log("inspect: the row and the frame within " + took + " ms; key " + key);
}

async function inspectChat() {
  const inspector = await openInspector({ width: 1280, height: 760 });
  const alice = await open(url);
  await waitForLog(alice, "You joined the room as ");
  const bob = await open(url);
  await waitForLog(bob, "You joined the room as ");
  await say(alice, "/nick alice");
  await waitForLog(bob, " is now alice");
  await say(bob, "/nick bob");
  await waitForLog(alice, " is now bob");
  await say(alice, "hello bob");
  await waitForLog(bob, "alice: hello bob");
  await say(bob, "hi alice");
  await waitForLog(alice, "bob: hi alice");
  await waitForText(inspector, "#clients", "alice");
  await waitForText(inspector, "#clients", "bob");
  await inspector.locator("#events li", { hasText: "hi alice" }).filter({ hasText: "to all 2" }).first().click();
  await waitForText(inspector, "#detail", "Payload Data");
  if (screenshot) await inspector.screenshot({ path: screenshot, fullPage: true });
  console.log("inspect-chat: alice and bob in the table, the room's frame drawn");
}

async function inspectRefused() {
  const inspector = await openInspector({ width: 1280, height: 760 });
  // A page from another site: a handshake with its Origin, which a browser
  // would send and never explain to the page. Sent raw, from here.
  const answer = await raw("GET /mychat HTTP/1.1\r\nHost: " + new URL(url).host + "\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
    "Origin: http://evil.example\r\n\r\n");
  if (!answer.startsWith("HTTP/1.1 403 ")) throw new Error("answered " + answer);
  const refused = inspector.locator('#events li[data-kind="refused"]', { hasText: "403 Origin not allowed" });
  await refused.waitFor({ timeout: 5000 });
  await refused.first().click();
  await waitForText(inspector, "#detail", "Origin: http://evil.example");
  if (screenshot) await inspector.screenshot({ path: screenshot, fullPage: true });
  console.log("inspect-refused: 403 shown with the request that earned it");
}

async function inspectTimeout() {
  const inspector = await openInspector({ width: 1280, height: 760 });
  // A client that completes its handshake, then never reads or answers:
  // pinged after a second of silence (--idle-timeout 1), dropped after two.
  const silent = tcp(Number(new URL(url).port), "127.0.0.1");
  silent.write("GET / HTTP/1.1\r\nHost: " + new URL(url).host + "\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  silent.on("data", () => {});
  silent.on("error", () => {});
  const dropped = inspector.locator('#events li[data-kind="event"]', { hasText: "did not answer a ping" });
  await dropped.waitFor({ timeout: 10000 });
  await inspector.locator('#events li[data-kind="frame"]', { hasText: "no answer to a ping" }).first().click();
  await waitForText(inspector, "#detail", "close code 1011");
  if (screenshot) await inspector.screenshot({ path: screenshot, fullPage: true });
  silent.destroy();
  console.log("inspect-timeout: ping, close 1011 and the drop shown");
}

async function inspectLoad() {
  const inspector = await openInspector({ width: 1280, height: 900 });
  const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  console.log("start the load");
  if ((await input.next()).value !== "loaded") throw new Error("no load");
  await inspector.waitForFunction(() => document.querySelectorAll("#clients tbody tr").length >= 1000,
    null, { timeout: 20000 });
  // For 3 s under load: every task that held the page's thread 50 ms or
  // more (the browser's "long tasks"), and how fast a click is answered.
  const measured = await inspector.evaluate(async () => {
    const tasks = [];
    const observer = new PerformanceObserver((list) => tasks.push(...list.getEntries().map((e) => e.duration)));
    observer.observe({ type: "longtask" });
    const clicks = [];
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const row = document.querySelectorAll("#clients tbody tr")[i * 100];
      const start = performance.now();
      row.click();
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
      clicks.push(performance.now() - start);
    }
    observer.disconnect();
    const filter = document.getElementById("filter");
    filter.value = "";
    filter.dispatchEvent(new Event("change"));
    await new Promise((r) => setTimeout(r, 300));
    return {
      rows: document.querySelectorAll("#clients tbody tr").length,
      listed: document.querySelectorAll("#events li").length,
      note: document.getElementById("note").textContent,
      longest: Math.max(0, ...tasks), busy: tasks.reduce((a, b) => a + b, 0) / 3000,
      slowestClick: Math.max(...clicks), rates: document.getElementById("rates").textContent,
    };
  });
  if (screenshot) await inspector.screenshot({ path: screenshot, fullPage: true });
  const line = "inspect-load: " + measured.rows + " rows, " + measured.listed + " events listed, longest task " +
    Math.round(measured.longest) + " ms, long tasks " + Math.round(measured.busy * 100) + "% of the time, slowest click " +
    Math.round(measured.slowestClick) + " ms; " + measured.rates;
  console.log(line);
  if (measured.longest > 250 || measured.busy > 0.3 || measured.slowestClick > 250) throw new Error("not smooth: " + line);
  // What it shows, and what it would only count: said on the page.
  if (!measured.note.includes("counts the rest")) throw new Error("the page does not say it samples: " + measured.note);
  if (!/frames a second: \d+ in, \d+ out; shown \d+/.test(measured.rates)) throw new Error("no rates: " + line);
}

async function openInspector(viewport) {
  const inspector = await open(url + "inspect");
  await inspector.setViewportSize(viewport);
  await waitForText(inspector, "#state", "OPEN");
  return inspector;
}

// One raw request over TCP; what came back before the server closed.
function raw(request) {
  return new Promise((resolve, reject) => {
    const socket = tcp(Number(new URL(url).port), "127.0.0.1", () => socket.write(request));
    let answer = "";
    socket.on("data", (data) => { answer += data; });
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}

// ---- helpers --------------------------------------------------------------

async function open(address) {
  const page = await context.newPage();
  pages.push(page);
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    // A refused connection is the browser's own console error, not the page's.
    if (m.type() === "error" && !m.text().includes("WebSocket connection to")) errors.push(m.text());
  });
  await page.goto(address);
  return page;
}

async function logOf(page) {
  // The inspector has no log: its list of events stands for one.
  const log = (await page.locator("#log").count()) ? "#log" : "#events";
  return page.locator(log).textContent();
}

async function say(page, text) {
  await page.fill("#msg", text);
  await page.press("#msg", "Enter");
}

async function lastLine(page) {
  return page.locator("#log > div").last().textContent();
}

function waitForLog(page, text, timeout = 10000) {
  return waitForText(page, "#log", text, timeout);
}

function waitForText(page, selector, text, timeout = 10000) {
  return page.waitForFunction(([s, t]) => document.querySelector(s).textContent.includes(t),
    [selector, text], { timeout });
}

function waitForCount(page, text, count, timeout = 10000) {
  return page.waitForFunction(([t, n]) =>
    document.getElementById("log").textContent.split(t).length - 1 >= n, [text, count], { timeout });
}

async function expectLine(page, kind, text) {
  const found = await page.locator("#log > div" + kind, { hasText: text }).count();
  if (!found) throw new Error("no " + kind + " line with " + JSON.stringify(text));
}

async function expectState(page, state) {
  await waitForText(page, "#state", state);
  const disabled = await page.locator("#send").isDisabled();
  if (disabled !== (state !== "OPEN")) throw new Error("Send is " + (disabled ? "disabled" : "enabled") + " while " + state);
}
