import { afterEach, describe, expect, it, vi } from 'vitest';
import { firstValueFrom, Subject, toArray } from 'rxjs';
import { Modality, type SensorEvent } from '../../../proto/gen/biopay/v1/biometrics.js';
import { assembleCaptures } from '../../../core/terminal/capture-assembler.js';

function event(partial: Partial<SensorEvent> & { sessionId: string }): SensorEvent {
  return {
    terminalId: 'T1', sensorId: 'finger-0', modality: Modality.MODALITY_FINGERPRINT, features: undefined,
    quality: 50, liveness: 90, capturedUnixMs: 0n, amount: undefined, hint: '', last: false, ...partial,
  };
}

const finger = (text: string) => ({ $case: 'isoTemplate' as const, value: Buffer.from(text) });

describe('capture assembly (RxJS)', () => {
  it('groups one touch into one capture with the best-quality finger, the face and the amount', async () => {
    const events = new Subject<SensorEvent>();
    const captures = firstValueFrom(events.pipe(assembleCaptures({ windowMs: 20, livenessMin: 50, eventsPerSessionMax: 16 }), toArray()));
    events.next(event({ sessionId: 's1', quality: 40, features: finger('weak') }));
    events.next(event({ sessionId: 's2', quality: 60, features: finger('other-session'), amount: { amountMinor: 5n, currency: 'EUR' } }));
    events.next(event({ sessionId: 's1', quality: 90, features: finger('strong'), amount: { amountMinor: 1234n, currency: 'EUR' } }));
    events.next(event({ sessionId: 's1', modality: Modality.MODALITY_FACE, features: { $case: 'embedding', value: { values: [0.5, 0.5] } } }));
    await new Promise((resolve) => setTimeout(resolve, 60));
    events.complete();
    const touches = await captures;
    expect(touches).toHaveLength(2);
    const s1 = touches.find((touch) => touch.sessionId === 's1')!;
    expect(s1.capture.isoTemplate.toString()).toBe('strong');
    expect(s1.capture.face?.values).toEqual([0.5, 0.5]);
    expect(s1.amount).toEqual({ amountMinor: 1234n, currency: 'EUR' });
    expect(s1.capture.captureId).toBe('T1:s1');
  });

  it('drops readings that fail liveness, and touches left with nothing', async () => {
    const events = new Subject<SensorEvent>();
    const captures = firstValueFrom(events.pipe(assembleCaptures({ windowMs: 10, livenessMin: 50, eventsPerSessionMax: 16 }), toArray()));
    events.next(event({ sessionId: 'spoof', liveness: 10, features: finger('silicone') }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    events.complete();
    expect(await captures).toEqual([]);
  });

  it('bounds the events kept per session', async () => {
    const events = new Subject<SensorEvent>();
    const captures = firstValueFrom(events.pipe(assembleCaptures({ windowMs: 1_000, livenessMin: 0, eventsPerSessionMax: 3 }), toArray()));
    for (let index = 0; index < 10; index++) events.next(event({ sessionId: 'stuck', quality: index, features: finger(`q${index}`) }));
    events.complete();
    const touches = await captures;
    expect(touches[0]!.capture.isoTemplate.toString()).toBe('q2');
  });
});

describe('capture assembly closes at the last reading', () => {
  it('closes a touch whose sensor never marks a last reading when its window ends, while the stream goes on', async () => {
    const events = new Subject<SensorEvent>();
    const first = firstValueFrom(events.pipe(assembleCaptures({ windowMs: 30, livenessMin: 0, eventsPerSessionMax: 16 })));
    events.next(event({ sessionId: 'silent', quality: 30, features: finger('a') }));
    events.next(event({ sessionId: 'silent', quality: 70, features: finger('b') }));
    // The source stays open: only the window can close the session.
    const touch = await first;
    expect(touch.sessionId).toBe('silent');
    expect(touch.capture.isoTemplate.toString()).toBe('b');
    events.complete();
  });

  it('emits without waiting for the window when a reading is marked last', async () => {
    const events = new Subject<SensorEvent>();
    const startedMs = performance.now();
    const first = firstValueFrom(events.pipe(assembleCaptures({ windowMs: 5_000, livenessMin: 0, eventsPerSessionMax: 16 })));
    events.next(event({ sessionId: 'quick', quality: 30, features: finger('a') }));
    events.next(event({ sessionId: 'quick', quality: 70, features: finger('b'), last: true }));
    const touch = await first;
    expect(touch.capture.isoTemplate.toString()).toBe('b');
    // Closed by the marker, not by the 5 s window (a behaviour check, not a timing benchmark).
    expect(performance.now() - startedMs).toBeLessThan(4_000);
    events.complete();
  });
});

describe('capture assembly windows (fake clock)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const options = { windowMs: 200, livenessMin: 0, eventsPerSessionMax: 16 };

  it('leaves no timer behind a touch closed by its last reading, and drops its late readings until the window ends', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const events = new Subject<SensorEvent>();
    const touches: string[] = [];
    const subscription = events.pipe(assembleCaptures(options)).subscribe((touch) => touches.push(touch.capture.isoTemplate.toString()));
    events.next(event({ sessionId: 's1', quality: 30, features: finger('a') }));
    expect(vi.getTimerCount()).toBe(1);
    events.next(event({ sessionId: 's1', quality: 70, features: finger('b'), last: true }));
    expect(touches).toEqual(['b']);
    expect(vi.getTimerCount()).toBe(0);
    // A duplicate of the last reading within the window: no second touch.
    vi.advanceTimersByTime(100);
    events.next(event({ sessionId: 's1', quality: 90, features: finger('late'), last: true }));
    expect(touches).toEqual(['b']);
    // After the window the same session id is a new touch (as a terminal reusing ids would make).
    vi.advanceTimersByTime(150);
    events.next(event({ sessionId: 's1', quality: 90, features: finger('again'), last: true }));
    expect(touches).toEqual(['b', 'again']);
    subscription.unsubscribe();
  });

  it('closes an open session when its window ends, and unsubscribing clears the timers of open ones', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const events = new Subject<SensorEvent>();
    const touches: string[] = [];
    const subscription = events.pipe(assembleCaptures(options)).subscribe((touch) => touches.push(touch.sessionId));
    events.next(event({ sessionId: 'open-1', features: finger('a') }));
    vi.advanceTimersByTime(150);
    events.next(event({ sessionId: 'open-2', features: finger('b') }));
    vi.advanceTimersByTime(60);
    expect(touches).toEqual(['open-1']);
    expect(vi.getTimerCount()).toBe(1);
    subscription.unsubscribe();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(touches).toEqual(['open-1']);
  });

  it('drops a reading that would open a session past the bound, and takes new sessions again once one closes', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const events = new Subject<SensorEvent>();
    const touches: string[] = [];
    const subscription = events.pipe(assembleCaptures({ ...options, openSessionsMax: 2 })).subscribe((touch) => touches.push(touch.sessionId));
    events.next(event({ sessionId: 'a', features: finger('a') }));
    events.next(event({ sessionId: 'b', features: finger('b') }));
    events.next(event({ sessionId: 'flood', features: finger('x'), last: true }));
    expect(touches).toEqual([]);
    expect(vi.getTimerCount()).toBe(2);
    events.next(event({ sessionId: 'a', features: finger('a2'), last: true }));
    events.next(event({ sessionId: 'c', features: finger('c'), last: true }));
    expect(touches).toEqual(['a', 'c']);
    subscription.unsubscribe();
  });

  it('assembles the open sessions, oldest first, when the source completes, and emits none when it fails', () => {
    const completed = new Subject<SensorEvent>();
    const touches: string[] = [];
    completed.pipe(assembleCaptures(options)).subscribe({ next: (touch) => touches.push(touch.sessionId) });
    completed.next(event({ sessionId: 'first', features: finger('a') }));
    completed.next(event({ sessionId: 'second', features: finger('b') }));
    completed.complete();
    expect(touches).toEqual(['first', 'second']);

    const failed = new Subject<SensorEvent>();
    const failures: unknown[] = [];
    const emitted: string[] = [];
    failed.pipe(assembleCaptures(options)).subscribe({ next: (touch) => emitted.push(touch.sessionId), error: (error) => failures.push(error) });
    failed.next(event({ sessionId: 'lost', features: finger('a') }));
    failed.error(new Error('sensor link down'));
    expect(emitted).toEqual([]);
    expect(failures).toHaveLength(1);
  });
});
