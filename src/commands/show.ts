import SubscriberShow from './subscriber/show.js';

/** kamctl's spelling: `sipctl show` is `sipctl subscriber show`. */
export default class Show extends SubscriberShow {
  static override summary = `${SubscriberShow.summary} (kamctl spelling of "subscriber show")`;
  static override examples = SubscriberShow.examples.map((e) => e.replace('subscriber show', 'show'));
}
