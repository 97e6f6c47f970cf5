import SubscriberRm from './subscriber/rm.js';

/** kamctl's spelling: `sipctl rm` is `sipctl subscriber rm`. */
export default class Rm extends SubscriberRm {
  static override summary = `${SubscriberRm.summary} (kamctl spelling of "subscriber rm")`;
  static override examples = SubscriberRm.examples.map((e) => e.replace('subscriber rm', 'rm'));
}
