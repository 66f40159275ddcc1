// "Go back" returns to the page the click came from when there is one. A tab opened from a
// mail program or webmail (usually a new tab, usually without a referrer) has nothing to go
// back to, so the link's own target, a "not opened" page, is used instead.
document.addEventListener("DOMContentLoaded", function () {
  var back = document.getElementById("go-back");
  if (back && window.history.length > 1 && document.referrer) {
    back.addEventListener("click", function (event) {
      event.preventDefault();
      window.history.back();
    });
  }
});
