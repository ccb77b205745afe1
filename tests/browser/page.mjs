// Drive www/socket_client.html in headless Chromium against a running server:
//   node tests/browser/page.mjs http://127.0.0.1:PORT/ SCREENSHOT.png
// Exits 0 when a person's session works end to end, 1 (with the page's log)
// when it does not. tests/browser.rs starts the server and runs this.

import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, screenshot] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "socket-server-chromium-"));
// Flags that work as root and headless: no sandbox (root), no GPU, and no
// background networking, which a machine with no outside network refuses
// many times over at every start.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

const errors = [];
let page;
try {
  page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url);

  const log = () => page.locator("#log").textContent();
  const waitForLog = (text) =>
    page.waitForFunction((t) => document.getElementById("log").textContent.includes(t), text,
      { timeout: 10000 });

  await waitForLog("Welcome - status 1");
  // Type and press Enter, as a person would.
  for (const [sent, expected] of [
    ["hello world", "Received: You have entered: hello world"],
    ["<b>not bold</b>", "Received: You have entered: <b>not bold</b>"],
    ["time", "Received: The time is "],
    ["age", "Received: I have been running for "],
  ]) {
    await page.fill("#msg", sent);
    await page.press("#msg", "Enter");
    await waitForLog(expected);
  }
  // The Send button works too, and the box is emptied after sending.
  await page.fill("#msg", "clicked");
  await page.click("#send");
  await waitForLog("Received: You have entered: clicked");
  if ((await page.inputValue("#msg")) !== "") throw new Error("the box was not emptied");
  // Replies are text, never markup.
  if ((await page.locator("#log b").count()) !== 0) throw new Error("a reply was rendered as HTML");

  await page.fill("#msg", "bye");
  await page.press("#msg", "Enter");
  await waitForLog("Received: Goodbye!");
  await waitForLog("Disconnected - status 3 (CLOSED), code 1000");

  if (screenshot) await page.screenshot({ path: screenshot });
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  console.log("browser session ok:\n" + (await log()));
} catch (e) {
  console.error("browser session failed: " + e.message);
  if (page) console.error("page log:\n" + (await page.locator("#log").textContent().catch(() => "?")));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
