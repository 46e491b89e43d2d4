// Progressive enhancement only: every page works without this script.
// - Filter and sort controls marked data-autosubmit submit their form when changed.
// - Buttons marked data-once are disabled after their form is submitted (the server makes a
//   double submission harmless anyway: checkout carries an idempotency key).
document.addEventListener("change", (event) => {
  const control = event.target.closest("[data-autosubmit]");
  if (control && control.form) control.form.requestSubmit();
});
document.addEventListener("submit", (event) => {
  for (const button of event.target.querySelectorAll("button[data-once]")) {
    setTimeout(() => { button.disabled = true; }, 0);
  }
});
