/**
 * The epoll reactor, living inside Deno's event loop.
 *
 * How it shares the thread (measured on a 2-core VM, Deno 2.9.6): a synchronous FFI
 * `epoll_wait(…, 0)` costs ~0.2 us, a `setImmediate` turn ~1.6 us, while waking a parked
 * `nonblocking` epoll_wait costs tens of microseconds. So while there is work the reactor polls
 * synchronously with timeout 0, once per macrotask turn (`setImmediate`, so Deno's timers and its
 * own I/O get a turn between polls and nothing starves), and spins a few empty turns before it
 * parks. Parking waits on an *outer* epoll fd that holds only the inner epoll fd and the waker
 * eventfd: the parked wait never consumes an inner event, so edge-triggered and one-shot
 * registrations stay exact, and the buffer handed to a parked wait is never the dispatch buffer.
 *
 * Two parking designs are implemented and measured (bench/load/wake_latency.ts): a `nonblocking`
 * FFI epoll_wait on Deno's blocking pool, and a Worker blocked in a synchronous epoll_wait that
 * signals through `Atomics.waitAsync`.
 *
 * Fairness with Deno's own I/O (bench/load/fairness_compare.ts). Deno runs JS on a tokio
 * current-thread runtime whose `event_interval` is 61: while a task keeps waking itself (a pending
 * `setImmediate` makes Deno's event loop do so), tokio polls its I/O driver only once every 61 task
 * polls. A reactor that pumps with `setImmediate` alone therefore lets Deno's own sockets
 * (Deno.serve, fetch, Deno.listen) progress once every ~61 turns: an in-process fetch took 44 ms at
 * the median under a busy netio echo here, against 0.9 ms under the same load on Deno's sockets.
 * Three rules keep Deno's I/O responsive while netio is saturated:
 * - **A turn budget** (`turnBudget`, default {@linkcode DEFAULT_TURN_BUDGET}): one turn dispatches
 *   at most that many events, and the operations that complete without waiting (a read on a socket
 *   known to be readable, a sendfile step) spend from the same budget; once it is spent they wait
 *   for the next turn (tokio's coop budget). One turn stays short, microtask chains included.
 * - **A yield when Deno's I/O is ready** (`yieldOnRuntimeIo`, default on): the reactor holds, in an
 *   epoll set of its own, the epoll fd of Deno's I/O driver (an epoll fd is pollable, and polling
 *   it consumes nothing). When it is readable at the start of a turn, Deno's sockets have events
 *   the runtime has not seen, and the reactor yields instead of dispatching; the turn after a yield
 *   always dispatches, so each side gets every other turn while both are busy. One epoll_wait (0 ms)
 *   per turn; no yield at all while Deno's sockets are quiet.
 * - **A periodic yield** (`yieldIntervalMs`, default {@linkcode DEFAULT_YIELD_INTERVAL_MS}): after
 *   that much busy time without the runtime thread parking, the reactor yields anyway, for what no
 *   fd shows: Deno's timers, and a process where the driver's fd was not found (a Worker).
 *
 * A yield must really park the runtime thread: the JS event loop must return to tokio with nothing
 * runnable and no wake-up pending, and be woken only after tokio has polled its driver. Measured
 * candidates (bench/load/fairness.ts, .tmp probes noted in issue #10): `setImmediate` and microtasks
 * never park; `setTimeout(0)` and an `Atomics.waitAsync` timeout park but cost ~1 ms (Deno rounds
 * timers up to 1 ms); a signal to ourselves wakes through a thread too and cost more; a
 * `nonblocking` FFI round trip (the waker set first, so epoll_wait returns at once) and a Worker's
 * `Atomics.notify` cost 30 us back to back and 100-170 us when spaced out (the helper thread has
 * gone to sleep). The yield is the nonblocking round trip, issued at the *start* of a turn: issued
 * while JavaScript still runs (the microtasks of a dispatch), it completes first, the event loop is
 * woken before it returns, and tokio never parks (fetches stalled 45 ms that way).
 *
 * Stale events: the epoll data word carries (fd, generation); an event whose generation no longer
 * matches the fd's current registration is dropped, so a reused fd number never sees its
 * predecessor's events.
 *
 * Keep-alive: the reactor keeps the process alive only while it has referenced work (a `register`
 * callback that is ref'd, or a pending readiness wait). A script that closes its last socket exits.
 *
 * @module
 */

import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLLIN,
} from "../../ffi/constants.ts";
import {
  check,
  fail,
  sysClose,
  sysEpollCreate1,
  sysEpollCtl,
  sysEventfd,
  sysRead,
  sysWrite,
} from "../../ffi/libc.ts";
import { EpollEventArray, Int64Cell } from "../../ffi/structs.ts";
import { EEXIST } from "../../ffi/errno.ts";
import { type Backend, type BackendName, EpollBackend, RECEIVED, SENT } from "./backend.ts";
import {
  DEFAULT_URING_ENTRIES,
  MAX_RECEIVE_BUFFER_SIZE,
  MAX_RECEIVE_BUFFERS,
  MAX_SEND_BUFFER_SIZE,
  MAX_SEND_BUFFERS,
  MIN_RECEIVE_BUFFER_SIZE,
  MIN_SEND_BUFFER_SIZE,
  openUringBackend,
  RECEIVE_BUFFER_SIZE,
  RECEIVE_BUFFERS,
  SEND_BUFFER_SIZE,
  SEND_BUFFERS,
} from "./uring_backend.ts";
import { ClosedError } from "../net/fd.ts";
import { checkBoolean, checkInteger, checkNumber, checkOptionalFunction } from "../_validate.ts";
import { interestToEpoll } from "./interest.ts";
import {
  checkWorkerPermission,
  NonblockingParker,
  type Parker,
  type ParkingDesign,
  WorkerParker,
} from "./parking.ts";
import { runtimeEpollFds, RuntimeWatch } from "./runtime_watch.ts";
import {
  type BackendInfo,
  DEFAULT_TURN_BUDGET,
  DEFAULT_YIELD_INTERVAL_MS,
  type ReactorOptions,
  type ReactorStats,
} from "./options.ts";
import { ReadinessWaits } from "./readiness_waits.ts";
import { type ReadyCallback, type RegisterOptions, Registration } from "./registration.ts";
import { setImmediate } from "node:timers";

/** Polls of one turn after its first, where polling costs no syscall (io_uring). */
const REPOLL_ROUNDS = 16;
/** Generation stamps live in the high 32 bits of the epoll data word. */
const GEN_LIMIT = 0x100000000;
/** The most event slots (maxEvents) and the largest turn budget. */
const MAX_SLOTS = 65536;
/** File descriptors are non-negative C ints. */
const MAX_FD = 0x7fffffff;

/**
 * An epoll event loop inside Deno's. Register fds with callbacks, or await readiness.
 *
 * @example
 * ```ts
 * import { Reactor } from "./reactor.ts";
 * await using reactor = new Reactor();
 * console.log(reactor.stats().registrations); // 0
 * ```
 */
export class Reactor {
  #backend: Backend;
  #backendInfo: BackendInfo;
  #outerFd: number;
  #wakeFd: number;
  #closed = false;
  #regs: (Registration | undefined)[] = [];
  #count = 0;
  #refs = 0;
  #generation = 0;
  #maxEvents: number;
  #spinBeforePark: number;
  #turnBudget: number;
  #yieldIntervalMs: number;
  // What is left of this turn's budget, and whether this turn was already counted as cut short.
  #budgetLeft: number;
  #turnCut = false;
  // When the runtime thread last parked (a park or a yield returned), in performance.now() ms.
  #lastRuntimePoll = 0;
  // Deno's own I/O driver, watched (see runtime_watch.ts); null when off or not found.
  #runtimeWatch: RuntimeWatch | null = null;
  // Whether the turn now starting follows a yield (then it dispatches: netio gets its turn too).
  #afterYield = false;
  // Operations deferred to the next turn: one shared promise per turn, holding one ref.
  #nextTurn: Promise<void> | undefined;
  #releaseNextTurn: (() => void) | undefined;
  #ctlEvent = new EpollEventArray(1);
  #drained = new Int64Cell(); // what a read of the waker takes out
  #wakeValue = new Int64Cell(); // what a wake adds: 1
  #onError: (error: unknown, fd: number) => void;
  #parking: ParkingDesign;
  #parker: Parker | undefined;
  #yielder: NonblockingParker | undefined;
  // Loop state: "idle" (nothing scheduled), "spinning" (a setImmediate pump is due), "running"
  // (inside a pump: its end decides what comes next), "parked" (a park or a yield is pending).
  #state: "idle" | "spinning" | "running" | "parked" = "idle";
  #emptyPolls = 0;
  #waits: ReadinessWaits = new ReadinessWaits(this);
  #stats = {
    polls: 0,
    events: 0,
    parks: 0,
    unparks: 0,
    wakes: 0,
    staleEvents: 0,
    received: 0,
    sent: 0,
    cbErrors: 0,
    yields: 0,
    budgetCutoffs: 0,
    deferred: 0,
  };
  #pump = (): void => this.#runPump();
  #onUnpark = (): void => {
    this.#stats.unparks++;
    this.#state = "idle";
    if (this.#closed) return;
    this.#lastRuntimePoll = performance.now();
    this.#drainWaker();
    this.#emptyPolls = 0;
    this.#afterYield = true;
    this.#runPump();
  };

  /** Creates a reactor: an epoll fd, an outer epoll fd for parking, and an eventfd waker. */
  constructor(options: ReactorOptions = {}) {
    const maxEvents = checkInteger(options.maxEvents ?? 1024, "maxEvents", 1, MAX_SLOTS);
    const spin = checkInteger(
      options.spinBeforePark ?? 8,
      "spinBeforePark",
      0,
      Number.MAX_SAFE_INTEGER,
    );
    const parking = options.parking ?? "nonblocking";
    if (parking !== "nonblocking" && parking !== "worker") {
      throw new TypeError(`parking must be "nonblocking" or "worker", got ${String(parking)}`);
    }
    const turnBudget = checkInteger(
      options.turnBudget ?? DEFAULT_TURN_BUDGET,
      "turnBudget",
      1,
      MAX_SLOTS,
    );
    const yieldIntervalMs = checkNumber(
      options.yieldIntervalMs ?? DEFAULT_YIELD_INTERVAL_MS,
      "yieldIntervalMs",
      0,
    );
    const watchRuntime = checkBoolean(options.yieldOnRuntimeIo ?? true, "yieldOnRuntimeIo");
    checkOptionalFunction(options.onError, "onError");
    if (parking === "worker") checkWorkerPermission();
    this.#turnBudget = turnBudget;
    this.#budgetLeft = turnBudget;
    this.#yieldIntervalMs = yieldIntervalMs;
    this.#maxEvents = maxEvents;
    this.#spinBeforePark = spin;
    this.#parking = parking;
    this.#onError = options.onError ??
      ((error, fd) => console.error(`netio reactor: callback for fd ${fd} threw:`, error));
    this.#wakeValue.value = 1;
    const requested = chooseBackend(options.backend);
    const uringEntries = checkInteger(
      options.uringEntries ?? DEFAULT_URING_ENTRIES,
      "uringEntries",
      1,
      MAX_SLOTS,
    );
    const receiveBuffers = checkInteger(
      options.uringReceiveBuffers ?? RECEIVE_BUFFERS,
      "uringReceiveBuffers",
      1,
      MAX_RECEIVE_BUFFERS,
    );
    if ((receiveBuffers & (receiveBuffers - 1)) !== 0) {
      throw new RangeError(`uringReceiveBuffers must be a power of two, got ${receiveBuffers}`);
    }
    const receiveBufferSize = checkInteger(
      options.uringReceiveBufferSize ?? RECEIVE_BUFFER_SIZE,
      "uringReceiveBufferSize",
      MIN_RECEIVE_BUFFER_SIZE,
      MAX_RECEIVE_BUFFER_SIZE,
    );

    const sendBuffers = checkInteger(
      options.uringSendBuffers ?? SEND_BUFFERS,
      "uringSendBuffers",
      1,
      MAX_SEND_BUFFERS,
    );
    const sendBufferSize = checkInteger(
      options.uringSendBufferSize ?? SEND_BUFFER_SIZE,
      "uringSendBufferSize",
      MIN_SEND_BUFFER_SIZE,
      MAX_SEND_BUFFER_SIZE,
    );

    // Found before the first epoll fd of ours exists, so that it cannot be one of ours.
    const drivers = watchRuntime ? runtimeEpollFds() : [];
    let backend: Backend | undefined;
    let reason: string | undefined;
    if (requested.name === "uring") {
      const opened = openUringBackend(uringEntries, {
        receiveBuffers,
        receiveBufferSize,
        sendBuffers,
        sendBufferSize,
      });
      if (opened instanceof Error) {
        reason = `io_uring unavailable, using epoll: ${opened.message}`;
      } else {
        backend = opened;
      }
    }
    backend ??= new EpollBackend(maxEvents);
    this.#backend = backend;
    this.#backendInfo = {
      backend: backend.name,
      requested: requested.name,
      requestedBy: requested.by,
      ...(reason !== undefined ? { fallbackReason: reason } : {}),
      receives: backend.receives,
      sends: backend.sends,
    };
    let outer = -1, wake = -1;
    try {
      outer = check(sysEpollCreate1(EPOLL_CLOEXEC), "epoll_create1");
      wake = check(sysEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
      // The outer set: the backend's fd (readable when it has ready events) and the waker.
      this.#ctl(outer, EPOLL_CTL_ADD, backend.fd, EPOLLIN, 0, 0);
      this.#ctl(outer, EPOLL_CTL_ADD, wake, EPOLLIN, 1, 0);
    } catch (e) {
      if (wake >= 0) sysClose(wake);
      if (outer >= 0) sysClose(outer);
      backend.close();
      throw e;
    }
    this.#outerFd = outer;
    this.#wakeFd = wake;
    this.#runtimeWatch = RuntimeWatch.open(drivers);
  }

  /** The process-wide reactor used by sockets that are not given one. */
  static default(): Reactor {
    if (!defaultReactor || defaultReactor.closed) defaultReactor = new Reactor();
    return defaultReactor;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The parking design in use. */
  get parking(): ParkingDesign {
    return this.#parking;
  }

  /** The backend in use: "epoll" or "uring". */
  get backend(): BackendName {
    return this.#backend.name;
  }

  /** Which backend runs, which was asked for (and how), and why a fallback happened. */
  backendInfo(): BackendInfo {
    return { ...this.#backendInfo };
  }

  #ctl(epfd: number, op: number, fd: number, bits: number, lo: number, hi: number): void {
    this.#ctlEvent.set(0, bits, lo, hi);
    const r = sysEpollCtl(epfd, op, fd, this.#ctlEvent.bytes);
    if (r < 0) throw fail(r, "epoll_ctl");
  }

  /**
   * Registers `fd` for `interest` ({@linkcode Interest} flags); `onReady` is called with
   * {@linkcode Ready} flags. A closed or non-pollable fd (a regular file: EPERM) or one already
   * registered (EEXIST) throws {@linkcode ErrnoError} and registers nothing.
   */
  register(
    fd: number,
    interest: number,
    onReady: ReadyCallback,
    options: RegisterOptions = {},
  ): Registration {
    return this.#register(fd, interest, onReady, options, false);
  }

  /**
   * @internal {@linkcode Reactor.register} for a descriptor netio made as a socket (accepted or
   * connected by it): the backend skips its check of the descriptor's type (io_uring: an fstat).
   */
  registerSocket(
    fd: number,
    interest: number,
    onReady: ReadyCallback,
    options: RegisterOptions = {},
  ): Registration {
    return this.#register(fd, interest, onReady, options, true);
  }

  #register(
    fd: number,
    interest: number,
    onReady: ReadyCallback,
    options: RegisterOptions,
    socket: boolean,
  ): Registration {
    if (this.#closed) throw new ClosedError("register");
    checkInteger(fd, "fd", 0, MAX_FD);
    if (typeof onReady !== "function") throw new TypeError("onReady must be a function");
    interestToEpoll(interest); // validates
    if (this.#regs[fd]) {
      throw fail(-EEXIST, "epoll_ctl");
    }
    const onData = options.onData;
    if (onData !== undefined && typeof onData !== "function") {
      throw new TypeError("onData must be a function");
    }
    const receive = onData !== undefined && this.#backend.receives;
    const onSent = options.onSent;
    if (onSent !== undefined && typeof onSent !== "function") {
      throw new TypeError("onSent must be a function");
    }
    const gen = this.#generation = (this.#generation + 1) % GEN_LIMIT;
    this.#backend.add(fd, interest, gen, receive, socket);
    // A parked reactor waits in the kernel: what the backend queued must reach it now.
    if (this.#state === "parked") this.#backend.flush();
    const reg = new Registration(
      this,
      fd,
      gen,
      interest,
      onReady,
      options.ref ?? true,
      receive ? onData! : null,
      onSent !== undefined && this.#backend.sends ? onSent : null,
    );
    this.#regs[fd] = reg;
    this.#count++;
    if (reg.refd) this.#addRef(1);
    return reg;
  }

  /** Changes a registration's interest; re-arms ONESHOT. */
  modify(registration: Registration, interest: number): void {
    if (this.#closed) throw new ClosedError("modify");
    if (!registration.active || this.#regs[registration.fd] !== registration) {
      throw new ClosedError("modify of a deregistered fd");
    }
    interestToEpoll(interest); // validates
    this.#backend.modify(registration.fd, interest, registration.generation);
    if (this.#state === "parked") this.#backend.flush();
    registration.interest = interest;
  }

  /** @internal Stops receiving on a registration and hands over what was received. */
  drainReceived(registration: Registration): void {
    const onData = registration.onData;
    if (this.#closed || onData === null || this.#regs[registration.fd] !== registration) return;
    this.#backend.drain(registration.fd, (data, n) => onData(data, n, registration));
  }

  /** @internal Queues a send of `data` on the backend, or answers false. */
  send(registration: Registration, data: Uint8Array): boolean {
    if (this.#closed || this.#regs[registration.fd] !== registration) return false;
    if (!this.#backend.send(registration.fd, data, data.length)) return false;
    this.#stats.sent++;
    // A parked reactor waits in the kernel, and an idle one (nothing ref'd) runs no turn: the
    // send must reach the kernel now. A running one submits it with its turn's other requests.
    if (this.#state === "parked" || this.#state === "idle") this.#backend.flush();
    return true;
  }

  /** @internal Whether `fd` is registered with this reactor. */
  isRegistered(fd: number): boolean {
    return this.#regs[fd] !== undefined;
  }

  /**
   * Removes a registration (by object or fd). Idempotent. Must happen before the fd is closed;
   * netio's sockets do it for you.
   */
  deregister(target: Registration | number): void {
    const fd = typeof target === "number" ? target : target.fd;
    const reg = this.#regs[fd];
    if (!reg || (typeof target !== "number" && reg !== target)) return;
    reg.active = false;
    this.#regs[fd] = undefined;
    this.#count--;
    if (reg.refd) this.#addRef(-1);
    if (!this.#closed) this.#backend.remove(fd);
    this.#waits.deregistered(reg);
  }

  /** @internal */
  setRef(reg: Registration, on: boolean): void {
    if (!reg.active || reg.refd === on) return;
    reg.refd = on;
    this.#addRef(on ? 1 : -1);
  }

  /** @internal Adds to the count of things keeping the loop running (pending waits, ref'd regs). */
  addRef(delta: number): void {
    this.#addRef(delta);
  }

  #addRef(delta: number): void {
    const before = this.#refs;
    this.#refs += delta;
    if (before === 0 && this.#refs > 0 && this.#state === "idle" && !this.#closed) {
      this.#startPumping();
    } else if (this.#refs === 0 && this.#state === "parked") {
      // Nothing keeps us alive any more: release the parked wait so the process can exit.
      this.wake();
    }
  }

  /** Schedules a turn from the idle state: the runtime was free until now. */
  #startPumping(): void {
    this.#emptyPolls = 0;
    this.#lastRuntimePoll = performance.now();
    // Stryker disable next-line StringLiteral: equivalent, the state is only compared with "idle" and "parked": any other value means a pump is due
    this.#state = "spinning";
    setImmediate(this.#pump);
  }

  /**
   * @internal Takes `units` of this turn's budget for an operation about to complete without
   * waiting for readiness (the last operation of a turn may overdraw it). False when the budget is
   * spent: await {@linkcode Reactor.nextTurn} first.
   */
  spend(units = 1): boolean {
    if (this.#budgetLeft > 0) {
      this.#budgetLeft -= units;
      return true;
    }
    this.#cutTurn();
    return false;
  }

  /**
   * @internal Resolves at the start of the next turn, when the budget is full again (after a yield
   * to the runtime when one is due). Keeps the process alive until then. Shared by every caller
   * of one turn: no allocation per deferred operation.
   */
  nextTurn(): Promise<void> {
    this.#stats.deferred++;
    if (this.#nextTurn) return this.#nextTurn;
    if (this.#closed) return Promise.reject(new ClosedError("reactor turn"));
    this.#nextTurn = new Promise<void>((resolve) => this.#releaseNextTurn = resolve);
    this.#addRef(1);
    if (this.#state === "parked") this.wake();
    // Stryker disable next-line StringLiteral: equivalent, #addRef(1) above has already left the idle state (idle holds no refs), so this branch never runs
    else if (this.#state === "idle") this.#startPumping();
    return this.#nextTurn;
  }

  #cutTurn(): void {
    if (this.#turnCut) return;
    this.#turnCut = true;
    this.#stats.budgetCutoffs++;
  }

  /** Wakes a parked reactor (writes the eventfd). Cheap; safe to call at any time. */
  wake(): void {
    if (this.#closed) return;
    this.#stats.wakes++;
    sysWrite(this.#wakeFd, this.#wakeValue.bytes);
  }

  #drainWaker(): void {
    sysRead(this.#wakeFd, this.#drained.bytes);
  }

  /** Runs one synchronous poll and dispatch now. Returns the number of events dispatched. */
  poll(): number {
    return this.#dispatch(this.#maxEvents);
  }

  #dispatch(limit: number): number {
    if (this.#closed) return 0;
    const backend = this.#backend;
    let n = backend.poll(limit);
    this.#stats.polls++;
    if (n === 0) return 0;
    const regs = this.#regs;
    this.#stats.events += n;
    for (let i = 0; i < n; i++) {
      const fd = backend.eventFd(i);
      if (fd < 0) continue; // already handed over by a drain
      const gen = backend.eventGeneration(i);
      const reg = regs[fd];
      if (reg === undefined || reg.generation !== gen || !reg.active) {
        this.#stats.staleEvents++;
        continue;
      }
      try {
        const ready = backend.eventReady(i);
        if (ready === RECEIVED) {
          this.#stats.received++;
          reg.onData!(backend.eventData(i), backend.eventResult(i), reg);
        } else if (ready === SENT) {
          reg.onSent!(backend.eventResult(i), reg);
        } else {
          reg.callback(ready, reg);
        }
      } catch (error) {
        this.#stats.cbErrors++;
        try {
          this.#onError(error, fd);
        } catch {
          // An error reporter that throws must not stop the loop either.
        }
      }
      if (this.#closed) {
        n = i + 1;
        break;
      }
    }
    return n;
  }

  #runPump(): void {
    this.#state = "running";
    if (this.#closed) return;
    if (this.#afterYield) {
      this.#afterYield = false;
    } else if (this.#runtimeWatch?.pending()) {
      this.#yieldToRuntime();
      return;
    } else if (performance.now() - this.#lastRuntimePoll >= this.#yieldIntervalMs) {
      this.#yieldToRuntime();
      return;
    }
    // A new turn: a full budget, and the operations deferred by the last one go first.
    this.#turnCut = false;
    const limit = Math.min(this.#maxEvents, this.#turnBudget);
    const release = this.#releaseNextTurn;
    if (release) {
      this.#nextTurn = this.#releaseNextTurn = undefined;
      release();
      this.#addRef(-1);
    }
    let n = 0;
    try {
      n = this.#dispatch(limit);
      // Where a poll costs no syscall (io_uring), what this dispatch's callbacks queued (sends,
      // re-arms) is submitted and what completed meanwhile is dispatched in this same turn, up to
      // its budget: a turn of the event loop costs more than a poll of the ring. Measured
      // 2026-12-01, keep-alive hello, wrk -c50, server pinned: 11.2-11.9 us of CPU per request
      // against 12.2-12.4 with one poll per turn; on epoll the extra epoll_wait costs what the
      // turns save (12.1 both ways), so it polls once.
      if (this.#backend.cheapPolls) {
        for (let round = 0; round < REPOLL_ROUNDS && n > 0 && n < limit; round++) {
          const more = this.#dispatch(limit - n);
          if (more === 0) break;
          n += more;
        }
      }
    } catch (error) {
      this.#onError(error, this.#backend.fd);
    }
    if (this.#closed) return;
    if (n === limit) this.#cutTurn();
    // The callbacks' continuations run after this turn returns and spend what is left.
    this.#budgetLeft = this.#turnBudget - n;
    if (this.#refs === 0) {
      this.#state = "idle";
      this.#parker?.idle();
      return;
    }
    if (n > 0 || release || this.#nextTurn) this.#emptyPolls = 0;
    else this.#emptyPolls++;
    if (this.#emptyPolls > this.#spinBeforePark) {
      this.#park();
      return;
    }
    this.#state = "spinning";
    setImmediate(this.#pump);
  }

  /**
   * Lets the runtime thread park and poll its own I/O driver, then resumes with a dispatching
   * turn. This runs at the start of a turn, so the last dispatch's microtasks are done: the
   * runtime parks only if its event-loop task is not woken again before it returns, so the wait
   * must not complete while JavaScript of ours still runs. The waker is set first, so the wait
   * returns as soon as the thread has parked. Always the nonblocking round trip, whatever the
   * parking design: a Worker parker may have to start its thread first (tens of milliseconds).
   */
  #yieldToRuntime(): void {
    this.#stats.yields++;
    this.#state = "parked";
    this.#backend.flush();
    sysWrite(this.#wakeFd, this.#wakeValue.bytes);
    (this.#yielder ??= new NonblockingParker(this.#outerFd)).park(this.#onUnpark);
  }

  #park(): void {
    this.#state = "parked";
    this.#stats.parks++;
    // What the last turn queued (re-arms, interest changes) must be in the kernel before the wait.
    this.#backend.flush();
    if (!this.#parker) {
      this.#parker = this.#parking === "worker"
        ? new WorkerParker(this.#outerFd)
        : new NonblockingParker(this.#outerFd);
    }
    this.#parker.park(this.#onUnpark);
  }

  // -------------------------------------------------------------------------------------------
  // Readiness promises

  /**
   * Resolves with {@linkcode Ready} flags when `fd` is readable (or read-closed, or in error).
   * Rejects with the signal's reason on abort, leaving nothing registered for this wait.
   */
  readable(fd: number, signal?: AbortSignal): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError("readable"));
    return this.#waits.wait(fd, true, signal);
  }

  /** Resolves when `fd` is writable (or in error). See {@linkcode Reactor.readable}. */
  writable(fd: number, signal?: AbortSignal): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError("writable"));
    return this.#waits.wait(fd, false, signal);
  }

  /** Counters: polls, events, parks, wake-ups, pending waits. */
  stats(): ReactorStats {
    const s = this.#stats;
    return {
      registrations: this.#count,
      polls: s.polls,
      events: s.events,
      parks: s.parks,
      unparks: s.unparks,
      wakes: s.wakes,
      staleEvents: s.staleEvents,
      received: s.received,
      receiveStalls: this.#backend.receiveStalls,
      sent: s.sent,
      callbackErrors: s.cbErrors,
      pendingWaits: this.#waits.pending,
      yields: s.yields,
      watchingRuntimeIo: (this.#runtimeWatch?.watched ?? 0) > 0,
      backend: this.#backend.name,
      budgetCutoffs: s.budgetCutoffs,
      deferredOperations: s.deferred,
    };
  }

  /**
   * Closes the reactor: pending waits reject, registrations are dropped (the fds themselves stay
   * open: they belong to their owners), the epoll fds and the waker are closed. Resolves once a
   * parked wait has returned.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    // Reject waiters first (while the epoll fd is still valid for deregistration).
    this.#waits.rejectAll(new ClosedError("readiness wait (reactor closed)"));
    if (this.#parker || this.#yielder) {
      sysWrite(this.#wakeFd, this.#wakeValue.bytes);
      await this.#parker?.close();
      await this.#yielder?.close();
    }
    this.#closed = true;
    const release = this.#releaseNextTurn;
    if (release) {
      // Deferred operations resume and find their sockets' registrations gone.
      this.#nextTurn = this.#releaseNextTurn = undefined;
      release();
    }
    for (let fd = 0; fd < this.#regs.length; fd++) {
      const reg = this.#regs[fd];
      if (reg) {
        reg.active = false;
        this.#regs[fd] = undefined;
      }
    }
    this.#count = 0;
    this.#refs = 0;
    sysClose(this.#outerFd);
    sysClose(this.#wakeFd);
    this.#backend.close();
    this.#runtimeWatch?.close();
    this.#runtimeWatch = null;
    if (defaultReactor === this) defaultReactor = undefined;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

let defaultReactor: Reactor | undefined;

/** The default backend where io_uring works (see the README: chosen by measurement). */
const DEFAULT_BACKEND: BackendName = "epoll";

/** The backend asked for: the option, else `NETIO_BACKEND` (read only if env access is granted). */
function chooseBackend(option: unknown): { name: BackendName; by: BackendInfo["requestedBy"] } {
  if (option !== undefined) {
    if (option !== "epoll" && option !== "uring") {
      throw new TypeError(`backend must be "epoll" or "uring", got ${String(option)}`);
    }
    return { name: option, by: "option" };
  }
  const env = { name: "env", variable: "NETIO_BACKEND" } as const;
  if (Deno.permissions.querySync(env).state === "granted") {
    const value = Deno.env.get("NETIO_BACKEND");
    if (value === "epoll" || value === "uring") return { name: value, by: "NETIO_BACKEND" };
  }
  return { name: DEFAULT_BACKEND, by: "default" };
}
