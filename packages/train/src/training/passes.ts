import { type Tensor, tidy } from '@reprise/core';
/**
 * @file A batch cut into passes the adapter can run. SR multiplies a sentence's length by r + 1, so a batch of
 * long sentences at large r can hold activations above the adapter's largest bindable buffer (at r = 8, 32
 * sentences of 256 subwords make a [73,728 × 512] MLP activation: 151 MB against llvmpipe's 128 MiB). Such a
 * batch runs as several passes of fewer sentences; the usual batch is one pass. Splitting changes no result:
 * a training step weights each pass's mean loss by its share of the batch's labeled tokens, so that their sum
 * is the batch's mean, and evaluation predicts each sentence on its own anyway.
 */
import { IGNORE_LABEL, type SequenceLabeler } from '@reprise/model';
import { type EncodedSentence, batchLabels, chunk } from './labeled-batches.ts';

/** `items` in passes of at most as many sequences as the labeler can run at once at their repeated length. */
export function passesOf<T extends { ids: readonly number[] }>(
  labeler: SequenceLabeler,
  items: readonly T[],
): T[][] {
  const { seq, batch } = labeler.layout(items.map((s) => s.ids));
  const most = labeler.maxSequencesPerPass(seq);
  return batch <= most ? [[...items]] : chunk(items, most);
}

/**
 * The training loss of a batch, in as many passes as the adapter needs. With several, each pass's weighted
 * loss is backpropagated at once (so that one pass's activations are alive at a time; the gradients add up in
 * the parameters) and the returned loss, detached, is their sum: `backpropagated` tells the loop so.
 */
export function batchLoss(
  labeler: SequenceLabeler,
  items: readonly EncodedSentence[],
): { loss: Tensor; backpropagated: boolean } {
  const passes = passesOf(labeler, items).map((pass) => {
    const layout = labeler.layout(pass.map((s) => s.ids));
    const labels = batchLabels(pass, layout.baseSeq);
    return { layout, labels, labeled: labels.filter((l) => l !== IGNORE_LABEL).length };
  });
  if (passes.length === 1)
    return { loss: labeler.loss(passes[0]!.layout, passes[0]!.labels), backpropagated: false };
  const labeled = passes.reduce((a, p) => a + p.labeled, 0);
  let total: Tensor | null = null;
  for (const pass of passes) {
    if (pass.labeled === 0) continue;
    const part = tidy(() => {
      const loss = labeler.loss(pass.layout, pass.labels).mul(pass.labeled / labeled);
      loss.backward();
      return loss.detach();
    });
    total = total ? total.add(part) : part;
  }
  if (!total) throw new Error('batchLoss: no labeled token in the batch');
  return { loss: total, backpropagated: true };
}
