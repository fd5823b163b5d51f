import { language, setUpHeader, t } from "/static/common.js";

setUpHeader(() => {});

/**
 * Only a page of this site: a `next` pointing elsewhere would make the login page an open redirect. A prefix test
 * is not enough — the URL parser reads `/\evil.example` and `/<tab>/evil.example` as `//evil.example` — so the
 * parser itself decides, and the absolute URL it gives is used only if its origin is ours (an absolute URL: a
 * path such as `/.//evil.example` resolves to `//evil.example`, which would be another host again).
 */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  if (!next.startsWith("/") || /[\\\u0000-\u001f\u007f]/.test(next)) return "/";
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return "/";
  }
  return url.origin === location.origin ? url.href : "/";
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("error");
  error.hidden = true;
  const body = {
    username: document.getElementById("username").value,
    password: document.getElementById("password").value,
  };
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept-Language": language() },
    body: JSON.stringify(body),
  });
  if (response.status === 204) {
    location.href = nextPage();
    return;
  }
  error.textContent = t(response.status === 429 ? "too_many_attempts" : "login_failed");
  error.hidden = false;
});
