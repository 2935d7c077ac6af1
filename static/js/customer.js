// The receipt's 打印 button (no inline handlers: the Content-Security-Policy allows none).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
