(* SPDX-License-Identifier: GPL-2.0 *)

(** Mirage flows and consoles over mflow's console devices, with Lwt.

    A [flow] is one endpoint of a console [/dev/mflowN]. It satisfies
    mirage-flow 4.0.1's {!Mflow_mirage.Mirage_flow.S}; {!Console}, over
    the same endpoint, satisfies the console signature
    {!Mflow_mirage.Mirage_console.S}. After SPEC.md's Mirage section:

    - [read] is R2-R4: a fresh buffer of at least one byte, [`Eof] once
      the peer has shut its write side, run the handshake or detached and
      its bytes have all been read; after [`Eof] or an error no later read
      succeeds;
    - [write], [writev] are R5-R7: they resolve once every byte is
      accepted; [EPIPE] is [Error `Closed]; after an error no later write
      succeeds. The bytes of one call are contiguous in the stream;
    - [shutdown] is R8 ([`write] after the pending writes);
    - [close] (v4) and [Console.disconnect] are the detach (R10): shut
      both sides, then [close(2)]; idempotent; pending reads and writes
      end with [`Closed];
    - [Console.close] (v3) is the close handshake (R9), run in the Lwt
      loop: [MFLOW_IOC_CLOSE] on the [O_NONBLOCK] descriptor, [EAGAIN],
      wait for [POLLHUP], again.

    The descriptor is [O_NONBLOCK] and Lwt is told so: no I/O runs in
    Lwt's job threads. The endpoint asks for [EPIPE] without [SIGPIPE]. *)

type flow
(** One endpoint of a console. *)

type error = [ `Closed | `Unix of Unix.error ]
(** Read errors: [`Closed] after {!close}, [`Unix] a failed [read(2)]. *)

val pp_error : error Fmt.t

type write_error = [ `Closed | `Unix of Unix.error ]
(** [`Closed]: [EPIPE] (R7: this side shut, or the peer cannot read),
    or the flow is closed. *)

val pp_write_error : write_error Fmt.t

val connect : string -> flow Lwt.t
(** [connect console] opens a console, attaching an endpoint (R1):
    [console] is a path ([/dev/mflow3], [/dev/mflow/by-name/NAME]), an
    index (["3"]), a kernel name (["mflow3"]) or a console name (R17;
    [/dev/mflow/by-name/NAME], else found in sysfs). Fails with
    [Invalid_argument] for [""] or a malformed name, [Unix.Unix_error]
    ([EBUSY]: both endpoints taken; [ENODEV]: no console of that name). *)

val read :
  flow -> (Cstruct.t Mflow_mirage.Mirage_flow.or_eof, error) result Lwt.t

val write : flow -> Cstruct.t -> (unit, write_error) result Lwt.t
val writev : flow -> Cstruct.t list -> (unit, write_error) result Lwt.t
val shutdown : flow -> [< `read | `write | `read_write ] -> unit Lwt.t
val close : flow -> unit Lwt.t

val fd : flow -> Unix.file_descr
(** The endpoint's descriptor (O_NONBLOCK). *)

type info = {
  console : int;  (** N of /dev/mflowN *)
  endpoint : int;  (** 0 or 1 *)
  connection : int64;
  fifo_size : int;
  flags : int;  (** {!Info_flag} bits *)
}

val info : flow -> info
(** [MFLOW_IOC_INFO] (R13). *)

module Info_flag : sig
  val rd_shut : int
  val wr_shut : int
  val peer_rd_shut : int
  val peer_wr_shut : int
  val peer_attached : int
  val peer_detached : int
  val nosigpipe : int
end

type stats = {
  read_bytes : int64;
  read_ops : int64;
  write_bytes : int64;
  write_ops : int64;
  duration : int64;  (** the connection's age, ns *)
}

val stats : flow -> stats
(** [MFLOW_IOC_STATS] (R13): Mirage's flow statistics. *)

(** The same endpoint as a Mirage console. *)
module Console : sig
  type t = flow
  type nonrec error = error

  val pp_error : error Fmt.t

  type nonrec write_error = write_error

  val pp_write_error : write_error Fmt.t
  val connect : string -> t Lwt.t
  (** As {!Mflow_lwt.connect}. *)

  val read : t -> (Cstruct.t Mflow_mirage.Mirage_flow.or_eof, error) result Lwt.t
  val write : t -> Cstruct.t -> (unit, write_error) result Lwt.t
  val writev : t -> Cstruct.t list -> (unit, write_error) result Lwt.t

  val close : t -> unit Lwt.t
  (** The close handshake (R9): after the pending writes, shut the write
      side, then wait until the peer has closed too (its [close], a write
      shutdown or a detach). Reading goes on meanwhile; inbound bytes stay
      readable after it returns, then [`Eof]. Never blocks the Lwt loop.
      Idempotent. *)

  val disconnect : t -> unit Lwt.t
  (** The detach (R10), as {!Mflow_lwt.close}. *)
end
