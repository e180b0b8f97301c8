// Drives the Lanyard admin console in the system Chromium (no browser download), for ConsoleBrowserTest.
// Usage: node console-flow.mjs main|expired   with env CONSOLE_LINK, SPIFFE_ID, SERIAL, SHOTS, STATE, CHROMIUM.
// Exits 0 when every expectation held; on failure prints what was expected and exits 1.
// Prints one JSON line on stdout: {"weights": {page: bytes}} (main phase).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
};
const phase = process.argv[2];
const shots = env('SHOTS');
mkdirSync(shots, { recursive: true });
const link = env('CONSOLE_LINK');
const base = new URL(link).origin;

function expect(condition, what) {
  if (!condition) throw new Error(`expected: ${what}`);
}

async function heading(page) {
  return (await page.textContent('h1')).trim();
}

const browser = await chromium.launch({ executablePath: env('CHROMIUM'), args: ['--no-sandbox'] });
const weights = {};
try {
  if (phase === 'main') {
    const id = env('SPIFFE_ID');
    const serial = env('SERIAL');
    const context = await browser.newContext();
    const page = await context.newPage();
    // Any request leaving the server's origin would be an external fetch: refuse and fail.
    const foreign = [];
    await context.route('**/*', (route) => {
      if (!route.request().url().startsWith(base)) { foreign.push(route.request().url()); return route.abort(); }
      return route.continue();
    });
    const visit = async (path, name) => {
      const response = await page.goto(base + path);
      expect(response.status() === 200, `${path} answers 200, got ${response.status()}`);
      weights[name] = (await response.body()).length;
      await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
    };

    // Log in with the link: it redirects to the overview and sets the session cookie.
    const login = await page.goto(link);
    expect(login.status() === 200 && (await heading(page)) === 'Overview', 'the login link opens the overview');
    weights.overview = (await login.body()).length;
    const csp = (await login.allHeaders())['content-security-policy'] || '';
    expect(csp.includes("default-src 'none'"), `a strict Content-Security-Policy, got "${csp}"`);
    await page.screenshot({ path: `${shots}/overview.png`, fullPage: true });
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'lanyard_console');
    expect(session && session.httpOnly && session.sameSite === 'Strict', 'an HttpOnly, SameSite=Strict session cookie');

    // The newly issued certificate is on the identities page, in its identity's row.
    await visit('/console/identities', 'identities');
    const row = page.locator('tr', { hasText: id });
    expect((await row.textContent()).includes(serial), `the row of ${id} lists serial ${serial}`);

    // Revoke by clicking, with a reason, then confirm.
    await row.locator('select[name=reason]').selectOption('keyCompromise');
    await row.locator('input[name=note]').fill('browser test: key left on a laptop');
    await row.getByRole('button', { name: `Revoke ${id}` }).click();
    expect((await heading(page)) === 'Confirm revocation', 'a confirmation page before revoking');
    await page.screenshot({ path: `${shots}/confirm-revocation.png`, fullPage: true });
    await page.getByRole('button', { name: 'Confirm revocation' }).click();
    expect((await heading(page)) === 'Identities', 'back on the identities page after revoking');
    expect((await page.textContent('[role=status]')).includes(`revoked ${id}`), 'a notice that the identity is revoked');
    expect((await page.locator('tr', { hasText: id }).textContent()).includes('revoked'), 'the identity shows as revoked');
    await page.screenshot({ path: `${shots}/identities-after-revoke.png`, fullPage: true });

    await visit('/console/revocations', 'revocations');
    const listed = page.locator('tr', { hasText: 'SPIFFE_ID' }).filter({ hasText: id });
    expect((await listed.textContent()).includes('keyCompromise'), 'the identity revocation is listed');
    expect((await page.locator('tr', { hasText: serial }).textContent()).includes('SERIAL'), 'and its certificate with it');
    await visit('/console/contracts', 'contracts');
    await visit('/console/policy', 'policy');

    // Find the revocation in the audit page by filtering, and verify the chain.
    await visit('/console/audit', 'audit');
    await page.fill('input[name=action]', 'revocation.revoke');
    await page.fill('input[name=target]', id);
    await page.getByRole('button', { name: 'Filter' }).click();
    const record = page.locator('tbody tr', { hasText: 'revocation.revoke' });
    expect((await record.count()) === 1, 'exactly one revocation.revoke record for the identity');
    expect((await record.textContent()).includes('channel=console'), 'the audit record names the console channel');
    await page.screenshot({ path: `${shots}/audit-filtered.png`, fullPage: true });
    await page.getByRole('link', { name: 'Verify the hash chain' }).click();
    expect((await page.textContent('[role=status]')).includes('The chain is intact'), 'the audit chain verifies');
    await page.screenshot({ path: `${shots}/audit-verified.png`, fullPage: true });

    // A forged CSRF token: the reinstate form, submitted by clicking, with its token replaced.
    await page.goto(base + '/console/identities');
    const revokedRow = page.locator('tr', { hasText: id });
    await revokedRow.locator('input[name=csrf]').evaluate((input) => { input.value = 'forged-token'; });
    const [forged] = await Promise.all([
      page.waitForNavigation(),
      revokedRow.getByRole('button', { name: `Reinstate ${id}` }).click(),
    ]);
    expect(forged.status() === 403 && (await heading(page)) === 'Request refused', 'a forged CSRF token is refused (403)');
    await page.screenshot({ path: `${shots}/csrf-refused.png`, fullPage: true });

    // The login link again, in a fresh browser context: used up.
    const other = await browser.newContext();
    const again = await (await other.newPage()).goto(link);
    expect(again.status() === 403, `a reused login link is refused (403), got ${again.status()}`);
    await other.close();

    expect(foreign.length === 0, `no external fetches, saw ${foreign.join(', ')}`);
    await context.storageState({ path: env('STATE') });
  } else if (phase === 'expired') {
    const context = await browser.newContext({ storageState: env('STATE') });
    const page = await context.newPage();
    const response = await page.goto(base + '/console/');
    expect(response.status() === 401 && (await heading(page)) === 'Not signed in', 'an expired session is refused (401)');
    await page.screenshot({ path: `${shots}/session-expired.png`, fullPage: true });
  } else {
    throw new Error(`unknown phase ${phase}; main or expired`);
  }
  console.log(JSON.stringify({ weights }));
} catch (e) {
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
