import { language, setUpHeader, t } from "/static/common.js";

setUpHeader(() => {});

/** Only a path of this site: a `next` pointing elsewhere would make the login page an open redirect. */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
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
