const escapeAttribute = (value: string) => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/**
 * The dashboard's HTML shell. The views are drawn by `/dashboard/app.js`; the only server value in
 * the page is the account id the admin API paths need, which is not a secret.
 */
export function dashboardPage(accountId: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="switchboard-account" content="${escapeAttribute(accountId)}">
<title>Switchboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/style.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<header class="bar">
  <h1>Switchboard</h1>
  <div class="controls" id="controls" hidden>
    <label>Gateway <select id="gateway"></select></label>
    <div class="segmented" id="range" role="group" aria-label="Time range">
      <button type="button" data-range="1h">1h</button>
      <button type="button" data-range="24h" aria-pressed="true">24h</button>
      <button type="button" data-range="7d">7d</button>
      <button type="button" data-range="30d">30d</button>
    </div>
    <button type="button" id="refresh">Refresh</button>
    <button type="button" id="signout">Sign out</button>
  </div>
  <button type="button" id="theme" title="Colour theme">Theme: system</button>
</header>
<main>
  <section id="login" class="card login" hidden>
    <h2>Sign in</h2>
    <p>Enter the admin token (<code>server.adminToken</code> in gateway.config.ts, or <code>SWITCHBOARD_ADMIN_TOKEN</code>). It stays in this tab only.</p>
    <form id="login-form">
      <input id="token" type="password" autocomplete="off" placeholder="Admin token" aria-label="Admin token" required>
      <button type="submit">Open dashboard</button>
    </form>
    <p id="login-error" class="error" role="alert" hidden></p>
  </section>
  <div id="dash" hidden>
    <p id="error" class="error" role="alert" hidden></p>
    <section class="tiles" id="tiles"></section>
    <section class="charts" id="charts"></section>
    <section class="groups">
      <div class="card"><h2>Top models</h2><div id="top-models"></div></div>
      <div class="card"><h2>Top providers</h2><div id="top-providers"></div></div>
    </section>
    <section class="card logs">
      <div class="logs-head">
        <h2>Logs</h2>
        <form id="filters" class="filters">
          <label>Provider <input name="provider" placeholder="any" list="providers-list"></label>
          <datalist id="providers-list"></datalist>
          <label>Model <input name="model" placeholder="contains…"></label>
          <label>Status <input name="status" inputmode="numeric" placeholder="e.g. 429" size="5"></label>
          <label>Result <select name="success"><option value="">any</option><option value="true">success</option><option value="false">error</option></select></label>
          <button type="submit">Apply</button>
          <label class="tail"><input type="checkbox" id="tail"> Live tail</label>
        </form>
      </div>
      <div class="logs-body">
        <div class="table-wrap"><table id="logs-table"><thead><tr><th>Time</th><th>Provider</th><th>Model</th><th>Status</th><th class="num">Duration</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead><tbody></tbody></table></div>
        <p id="logs-empty" class="empty" hidden></p>
        <div class="pager"><button type="button" id="prev">← Newer</button><span id="page-info"></span><button type="button" id="next">Older →</button></div>
      </div>
    </section>
    <section class="card detail" id="detail" hidden></section>
  </div>
</main>
</body>
</html>
`;
}
