import SubscriberAdd from './subscriber/add.js';

/** kamctl's spelling: `sipctl add` is `sipctl subscriber add`. */
export default class Add extends SubscriberAdd {
  static override summary = `${SubscriberAdd.summary} (kamctl spelling of "subscriber add")`;
  static override examples = SubscriberAdd.examples.map((e) => e.replace('subscriber add', 'add'));
}
