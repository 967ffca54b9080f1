import { expect } from 'chai';
import { createOutgoingQueues } from '../../services/broker/outgoing-queues.js';

const publish = (brokerCounter: number, messageId?: number) => ({
  cmd: 'publish', brokerId: 'b1', brokerCounter, topic: 't', payload: Buffer.from(`m${brokerCounter}`), qos: 1, messageId,
});
const client = { id: 'router' };

describe('createOutgoingQueues', () => {
  it('keeps queued messages in order and drops the one a PUBACK names', async () => {
    const queues = createOutgoingQueues();
    for (const n of [1, 2, 3]) await queues.outgoingEnqueue({ clientId: 'router' }, publish(n));
    for (const n of [1, 2, 3]) await queues.outgoingUpdate(client, publish(n, 100 + n));

    const cleared = await queues.outgoingClearMessageId(client, { cmd: 'puback', messageId: 102 });

    expect(cleared?.brokerCounter).to.equal(2);
    expect(queues.outgoingStream(client).map((p) => [p.brokerCounter, p.messageId])).to.deep.equal([[1, 101], [3, 103]]);
    expect(await queues.outgoingClearMessageId(client, { cmd: 'puback', messageId: 102 })).to.equal(undefined);
  });

  it('gives a redelivered message its new packet id, and forgets the old one', async () => {
    const queues = createOutgoingQueues();
    await queues.outgoingEnqueueCombi([{ clientId: 'router' }, { clientId: 'other' }], publish(1));
    await queues.outgoingUpdate(client, publish(1, 7));
    // Reconnected: the same message goes out again under another id.
    await queues.outgoingUpdate(client, publish(1, 8));

    expect(await queues.outgoingClearMessageId(client, { cmd: 'puback', messageId: 7 })).to.equal(undefined);
    expect((await queues.outgoingClearMessageId(client, { cmd: 'puback', messageId: 8 }))?.brokerCounter).to.equal(1);
    expect(queues.outgoingStream(client)).to.deep.equal([]);
    expect(queues.outgoingStream({ id: 'other' })).to.have.length(1);
  });

  it('puts a QoS 2 PUBREL in the place of its PUBLISH, and refuses an update for nothing queued', async () => {
    const queues = createOutgoingQueues();
    await queues.outgoingEnqueue({ clientId: 'router' }, publish(1));
    await queues.outgoingEnqueue({ clientId: 'router' }, publish(2));
    await queues.outgoingUpdate(client, publish(1, 5));

    await queues.outgoingUpdate(client, { cmd: 'pubrel', messageId: 5 });

    expect(queues.outgoingStream(client).map((p) => p.cmd)).to.deep.equal(['pubrel', 'publish']);
    let refused: unknown;
    await queues.outgoingUpdate(client, publish(9, 9)).catch((err: unknown) => (refused = err));
    expect(refused).to.be.an('error');
  });
});

describe('createOutgoingQueues when two messages hold one packet id', () => {
  it('clears them in queue order, as the scan it replaces does', async () => {
    const queues = createOutgoingQueues();
    await queues.outgoingEnqueue({ clientId: 'router' }, publish(1));
    await queues.outgoingEnqueue({ clientId: 'router' }, publish(2));
    // After a reconnect, aedes gives a fresh message an id an older one in flight still holds.
    await queues.outgoingUpdate(client, publish(1, 7));
    await queues.outgoingUpdate(client, publish(2, 7));

    expect((await queues.outgoingClearMessageId(client, { cmd: 'puback', messageId: 7 }))?.brokerCounter).to.equal(1);
    expect((await queues.outgoingClearMessageId(client, { cmd: 'puback', messageId: 7 }))?.brokerCounter).to.equal(2);
    expect(queues.outgoingStream(client)).to.deep.equal([]);
  });
});
