// "Go back" returns to the previous page when there is one; a tab opened from a mail program
// has none, so the link's own target (a "not opened" page) is used instead.
document.addEventListener("DOMContentLoaded", function () {
  var back = document.getElementById("go-back");
  if (back && window.history.length > 1) {
    back.addEventListener("click", function (event) {
      event.preventDefault();
      window.history.back();
    });
  }
});
