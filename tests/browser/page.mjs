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
// Exits 0 when the scenario works end to end, 1 (with the page's log) when it
// does not. tests/browser.rs starts the server and runs this.

import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [scenario, url, screenshot] = process.argv.slice(2);
const SCENARIOS = { tutorial, chat, imitation, flood, reconnect };
if (!SCENARIOS[scenario]) {
  console.error("usage: node page.mjs tutorial|chat|imitation|flood|reconnect URL [SCREENSHOT]");
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

function logOf(page) {
  return page.locator("#log").textContent();
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
