// The stop buttons, and the admin-token box that shows when the server needs
// a token for actions and the user has not given one in this tab.
import { act, adminToken, get, setAdminToken } from './api';
import { errorBox, h } from './dom';

let tokenRequired: Promise<boolean> | undefined;

function needsToken(): Promise<boolean> {
  tokenRequired ??= get<{ adminTokenRequired: boolean }>('config').then((c) => c.adminTokenRequired);
  return tokenRequired;
}

// A button that POSTs `path` after the user confirms `question`, then calls
// `done`; errors are shown beside it.
export function actionButton(label: string, question: string, path: string, done: () => void): HTMLElement {
  const box = h('span', { class: 'row' });
  const button = h('button', { class: 'danger', 'data-test': 'action' }, label) as HTMLButtonElement;
  button.onclick = async () => {
    if (!window.confirm(question)) return;
    button.disabled = true;
    try {
      await act(path);
      done();
    } catch (error) {
      box.append(errorBox(error));
    } finally {
      button.disabled = false;
    }
  };
  box.append(button);
  void needsToken().then((required) => {
    if (!required || adminToken()) return;
    const input = h('input', { type: 'password', placeholder: 'admin token', 'data-test': 'admin-token' }) as HTMLInputElement;
    input.onchange = () => setAdminToken(input.value.trim());
    box.prepend(input);
  });
  return box;
}
