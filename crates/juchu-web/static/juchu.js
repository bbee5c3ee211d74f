// The admin UI's only script, served as /static/juchu.js so that the content
// security policy can forbid inline scripts. Each part acts only when its page's
// elements are there; every page works without it (plain forms), it only adds
// conveniences.
(function () {
  'use strict';
  function byId(id) { return document.getElementById(id); }

  // Job notifications (「受注 … を登録しました。」/「… を完了しました。」) pushed by the server.
  (function jobNotices() {
    var box = byId('notices');
    if (!box || !window.EventSource) return;
    var es = null;
    // Only visible tabs listen: a browser allows few connections per server.
    function listen() {
      if (document.hidden) { if (es) { es.close(); es = null; } return; }
      if (es) return;
      es = new EventSource('/events');
      es.addEventListener('job', show);
    }
    document.addEventListener('visibilitychange', listen);
    listen();
    function show(e) {
      var j = JSON.parse(e.data);
      var d = document.createElement('div');
      d.className = 'flash notice' + (j.status === 'failed' ? ' bad' : '');
      d.setAttribute('data-job', j.id);
      d.textContent = j.notice + ' ';
      var a = document.createElement('a');
      a.href = '/jobs';
      a.textContent = 'ジョブ管理';
      d.appendChild(a);
      box.appendChild(d);
      setTimeout(function () { d.remove(); }, 20000);
    }
  })();

  // 受注一覧: the header checkbox checks every row and chooses 「チェックした受注」.
  (function orderChecks() {
    var all = byId('check-all');
    if (!all) return;
    all.addEventListener('change', function (e) {
      document.querySelectorAll('.row-check').forEach(function (c) { c.checked = e.target.checked; });
      byId('scope-checked').checked = true;
    });
    document.querySelectorAll('.row-check').forEach(function (c) {
      c.addEventListener('change', function () { byId('scope-checked').checked = true; });
    });
  })();

  // 一括処理 (mail): copy the chosen template into the subject and body.
  (function quoteTemplate() {
    var btn = byId('quote-template');
    if (!btn) return;
    btn.addEventListener('click', function () {
      var o = byId('template_code').selectedOptions[0];
      if (!o) return;
      byId('subject').value = o.getAttribute('data-subject');
      byId('body').value = o.getAttribute('data-body');
      byId('mail_source').value = 'text';
    });
  })();

  // ショップロゴ: the chosen file goes up as hex in a plain form field.
  (function logoUpload() {
    var input = byId('logo-file');
    if (!input) return;
    input.addEventListener('change', function (e) {
      var f = e.target.files[0];
      if (!f) return;
      var r = new FileReader();
      r.onload = function () {
        var b = new Uint8Array(r.result), h = [];
        for (var i = 0; i < b.length; i++) h.push((b[i] < 16 ? '0' : '') + b[i].toString(16));
        byId('logo-hex').value = h.join('');
      };
      r.readAsArrayBuffer(f);
    });
  })();

  // 郵便番号 → 住所: a button next to each postal code field (data-postal="prefix")
  // fills 都道府県 and 住所1 from juchu's postal data; the server checks again on save.
  document.querySelectorAll('button[data-postal]').forEach(function (btn) {
    var p = btn.getAttribute('data-postal');
    btn.addEventListener('click', function () {
      var code = document.querySelector('[name="' + p + 'postal_code"]');
      var note = byId(p + 'postal_note');
      fetch('/postal-codes/' + encodeURIComponent(code.value), { credentials: 'same-origin' })
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          if (!res[0]) { if (note) note.textContent = res[1].message; return; }
          var a = res[1];
          var pref = document.querySelector('[name="' + p + 'prefecture"]');
          var addr = document.querySelector('[name="' + p + 'address1"]');
          if (pref) pref.value = a.prefecture;
          if (addr) addr.value = a.address1;
          if (note) note.textContent = a.towns.length > 1 ? '町域の候補: ' + a.towns.join('、') : '';
          if (addr) addr.focus();
        });
    });
  });

  // 受注登録: totals recalculate as the form changes (the server prices the
  // order the same way when it is saved, and that price is the one kept).
  (function orderEntry() {
    var form = byId('order-entry');
    if (!form) return;
    var timer = null;
    function quote() {
      var fd = new FormData(form);
      fd.delete('csrf');
      fetch('/orders/new/quote', { method: 'POST', body: new URLSearchParams(fd), credentials: 'same-origin' })
        .then(function (r) { return r.text(); })
        .then(function (html) { byId('entry-totals').innerHTML = html; });
    }
    form.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(quote, 250); });
    form.addEventListener('change', quote);
  })();

  // Mail on the order page: プレビュー fills the editable subject and body.
  (function orderMail() {
    var btn = byId('mail-preview');
    if (!btn) return;
    btn.addEventListener('click', function () {
      var fd = new FormData(byId('order-mail'));
      fetch(btn.getAttribute('data-url') + '?template=' + encodeURIComponent(fd.get('template')), { credentials: 'same-origin' })
        .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
        .then(function (res) {
          if (!res[0]) { byId('mail-note').textContent = res[1].message; return; }
          byId('mail-subject').value = res[1].subject;
          byId('mail-body').value = res[1].body;
          byId('mail-note').textContent = '';
        });
    });
  })();

  // The request form (申請フォーム): questions asked only for one 申請種別
  // (解約 / 休止 / サイクル変更) show when that type is chosen. Without the
  // script they all show, marked with their type, and the server keeps only
  // the chosen type's answers.
  (function requestForm() {
    var form = document.querySelector('form[data-request-form]');
    if (!form) return;
    function chosen() {
      var picked = form.querySelector('[name="col_1"]:checked');
      if (picked) return picked.value;
      var sel = form.querySelector('select[name="col_1"], input[name="col_1"]:not([type="radio"])');
      return sel ? sel.value : '';
    }
    function update() {
      var t = chosen();
      form.querySelectorAll('[data-only-for]').forEach(function (el) {
        el.hidden = el.getAttribute('data-only-for') !== t;
      });
    }
    form.addEventListener('change', update);
    update();
  })();

  // A form with data-confirm asks before it is sent (inline handlers are
  // refused by the page's Content-Security-Policy).
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form && form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
    }
  });
})();
