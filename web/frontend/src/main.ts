// The dashboard's entry: a router over location.hash.
//   #/                the studies
//   #/studies/NAME    one study
//   #/trials/ID       one trial
import { disposeAll } from './charts';
import { renderStudies } from './studies';
import { renderStudy } from './study';
import { renderTrial } from './trial';

let leave: (() => void) | undefined;

function route(): void {
  const root = document.getElementById('app')!;
  leave?.();
  disposeAll();
  root.removeAttribute('data-rendered');
  const hash = location.hash.replace(/^#/, '') || '/';
  const study = /^\/studies\/([^/]+)$/.exec(hash);
  const trial = /^\/trials\/([^/]+)$/.exec(hash);
  if (study) {
    leave = renderStudy(root, decodeURIComponent(study[1]));
  } else if (trial) {
    leave = renderTrial(root, decodeURIComponent(trial[1]));
  } else {
    leave = renderStudies(root);
  }
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', route);
