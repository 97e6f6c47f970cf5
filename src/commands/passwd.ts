import SubscriberPasswd from './subscriber/passwd.js';

/** kamctl's spelling: `sipctl passwd` is `sipctl subscriber passwd`. */
export default class Passwd extends SubscriberPasswd {
  static override summary = `${SubscriberPasswd.summary} (kamctl spelling of "subscriber passwd")`;
  static override examples = SubscriberPasswd.examples.map((e) => e.replace('subscriber passwd', 'passwd'));
}
