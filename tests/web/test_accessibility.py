"""The pages are accessible, checked in Chromium on what it actually renders: one h1 and no
skipped heading levels, a language, a label for every form field, text alternatives, and text
contrast of at least WCAG AA (4.5:1, 3:1 for large text) for every piece of visible text —
the verdict and step-state colours included."""

from __future__ import annotations

from pathlib import Path

from buildbot_fixture import cpython_like_master  # noqa: F401  (the shared session master)

from relman.site.app import create_app

from .test_browser import browser, site_for  # noqa: F401  (the module's Chromium)
from .webhelpers import LiveRun, Workflow, serving, wait_until

AUDIT = """() => {
  const problems = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  if (!document.documentElement.getAttribute('lang')) problems.push('no lang on <html>');
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(`${h1} h1 elements`);
  let last = 0;
  for (const h of document.querySelectorAll('h1,h2,h3,h4,h5,h6')) {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) problems.push(`heading level skipped: h${last} then ${describe(h)}`);
    last = level;
  }
  for (const field of document.querySelectorAll('input:not([type=hidden]),select,textarea')) {
    const labelled = field.getAttribute('aria-label') || field.getAttribute('aria-labelledby') ||
        (field.id && document.querySelector(`label[for="${field.id}"]`)) || field.closest('label');
    if (!labelled) problems.push(`form field without a label: ${describe(field)}`);
  }
  for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) problems.push(`img without alt`);
  for (const svg of document.querySelectorAll('svg')) {
    if (svg.getAttribute('aria-hidden') !== 'true' && !svg.getAttribute('aria-label') &&
        !svg.querySelector('title')) problems.push('svg without a text alternative');
  }
  const rgba = (text) => { const m = text.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const luminance = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {          // the first opaque background behind the element
    let colour = [255, 255, 255];
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const bg = rgba(getComputedStyle(node).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    for (const [r, g, b, a] of layers.reverse()) colour = [r * a + colour[0] * (1 - a), g * a + colour[1] * (1 - a), b * a + colour[2] * (1 - a)];
    return colour;
  };
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0 || box.height === 0) continue;
    if (el.closest('[aria-hidden="true"]')) continue;
    const fg = rgba(style.color);
    const bg = background(el);
    const blended = [fg[0] * fg[3] + bg[0] * (1 - fg[3]), fg[1] * fg[3] + bg[1] * (1 - fg[3]), fg[2] * fg[3] + bg[2] * (1 - fg[3])];
    const [a, b] = [luminance(blended), luminance(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    checked += 1;
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${el.textContent.trim().slice(0, 30)}" in ${describe(el)} (${style.color} on rgb(${bg.map(Math.round)}))`);
  }
  return {problems, checked};
}"""


def audit(page) -> list[str]:
    found = page.evaluate(AUDIT)
    assert found["checked"] > 5, "the audit saw (almost) no text"
    return found["problems"]


def test_the_dashboard_is_accessible(browser, cpython_like_master, tmp_path: Path) -> None:  # noqa: F811
    site = site_for(tmp_path, tmp_path / "state", cpython_like_master.url)
    with serving(create_app(site)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url + "/")
        page.wait_for_selector("section.branch.verdict-unreleasable", timeout=30_000)
        page.wait_for_selector("section.branch.verdict-releasable", timeout=30_000)
        page.locator("details").evaluate_all("(all) => all.forEach((d) => d.open = true)")   # every group shown
        assert audit(page) == []
        page.close()


def test_a_run_page_with_its_gate_form_and_the_runs_list_are_accessible(browser, tmp_path: Path) -> None:  # noqa: F811
    state = tmp_path / "state"
    state.mkdir()
    flow = Workflow()
    flow.release.set()
    run = LiveRun(state, flow, wait_s=0.0).start()
    wait_until(lambda: run.step_status("ship.push") == "paused", "the gate")
    with serving(create_app(site_for(tmp_path, state))) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        for path in (f"/runs/{run.run_id}", "/runs/", f"/runs/{run.run_id}/steps/build.archive"):
            page.goto(url + path)
            assert audit(page) == [], path
        page.goto(f"{url}/runs/{run.run_id}")
        assert page.get_by_role("button", name="Approve").count() == 1      # the gate form was audited
        page.close()
    assert run.join().status == "paused"


def test_the_downloads_pages_are_accessible(browser, tmp_path: Path) -> None:  # noqa: F811
    from starlette.testclient import TestClient

    from .downloads_helpers import AUTH, file_body, make_site, seed

    site = make_site(tmp_path)
    app = create_app(site)
    with TestClient(app) as client:
        uris = seed(client, published=True)
        tarball = "https://downloads.example.org/ftp/python/3.14.0/Python-3.14.0rc1.tar.xz"
        assert client.post("/api/v1/downloads/release_file/", headers=AUTH, json=file_body(
            uris, "XZ compressed source tarball", tarball, button=True, gpg_signature_file=tarball + ".asc",
            filesize=23_000_000)).status_code == 201
    with serving(app) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        for path in ("/downloads/", "/downloads/release/python-3140rc1/"):
            page.goto(url + path)
            assert audit(page) == [], path
        page.close()


def test_the_audit_catches_what_it_checks(browser) -> None:  # noqa: F811
    """The audit is not a rubber stamp: a page with each fault is reported, fault by fault."""
    page = browser.new_page()
    page.set_content("""<html><body><h1>One</h1><h1>Two</h1><h4>Deep</h4>
        <p style="color:#aaa">pale text on white</p><p style="color:#fff;background:#ff0">white on yellow</p>
        <p>fine text</p><p>more fine text</p><p>and more</p><p>still fine</p>
        <input id="k" type="text"><img src="x.png"><svg width="4" height="4"></svg></body></html>""")
    problems = audit(page)
    page.close()
    assert "no lang on <html>" in problems and "2 h1 elements" in problems
    assert "heading level skipped: h1 then h4" in problems
    assert "form field without a label: input#k" in problems
    assert "img without alt" in problems and "svg without a text alternative" in problems
    low = [p for p in problems if p.startswith("contrast")]
    assert len(low) == 2 and any("pale text" in p for p in low) and any("white on yellow" in p for p in low)
