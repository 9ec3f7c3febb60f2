(* SPDX-License-Identifier: GPL-2.0 *)

(** MirageOS's flow and console signatures, as published.

    [mirage-flow] is not packaged by Debian, so the signatures mflow
    implements are written here from the published ones: {!Mirage_flow}
    is mirage-flow 4.0.1's [Mirage_flow] (with [shutdown], and [close]
    that frees the flow), {!Mirage_flow_v3} its [S] before 4.0 (no
    [shutdown]; [close] is the half-close and handshake) and
    {!Mirage_console} the console signature ([disconnect] and a v3
    flow). A program written against them builds unchanged against the
    real packages. *)

module Mirage_flow : sig
  type write_error = [ `Closed ]
  (** The type for generic write errors on flows. *)

  val pp_write_error : write_error Fmt.t

  type 'a or_eof = [ `Data of 'a | `Eof ]
  (** The type for read results on flows. *)

  val pp_or_eof : 'a Fmt.t -> 'a or_eof Fmt.t

  (** mirage-flow 4.0.1's flow signature. *)
  module type S = sig
    type error

    val pp_error : error Fmt.t

    type nonrec write_error = private [> write_error ]

    val pp_write_error : write_error Fmt.t

    type flow

    val read : flow -> (Cstruct.t or_eof, error) result Lwt.t
    (** Blocks until some data is available and returns a fresh buffer of
        at least one byte; once it returned [`Eof] or an error, no later
        read succeeds. *)

    val write : flow -> Cstruct.t -> (unit, write_error) result Lwt.t
    (** Resolves once the whole buffer is accepted; [Error `Closed] when
        the connection is closed. Once a write returned an error, no later
        write or writev succeeds. *)

    val writev : flow -> Cstruct.t list -> (unit, write_error) result Lwt.t

    val shutdown : flow -> [< `read | `write | `read_write ] -> unit Lwt.t
    (** [`read]: no later read returns data; [`write]: pending writes are
        flushed and the remote endpoint reads [`Eof]. *)

    val close : flow -> unit Lwt.t
    (** Terminates the flow and frees all associated data; later reads
        and writes return errors; a second close does nothing. *)
  end
end

module Mirage_flow_v3 : sig
  (** The flow signature before mirage-flow 4.0, which the console
      signature includes. *)
  module type S = sig
    type error

    val pp_error : error Fmt.t

    type nonrec write_error = private [> Mirage_flow.write_error ]

    val pp_write_error : write_error Fmt.t

    type flow

    val read : flow -> (Cstruct.t Mirage_flow.or_eof, error) result Lwt.t

    val write : flow -> Cstruct.t -> (unit, write_error) result Lwt.t

    val writev : flow -> Cstruct.t list -> (unit, write_error) result Lwt.t

    val close : flow -> unit Lwt.t
    (** Flushes pending writes and signals the remote endpoint that no
        more will come (a half-close), then waits until the remote
        endpoint has called [close] too. The local endpoint may still
        read meanwhile. *)
  end
end

module Mirage_console : sig
  (** Console signature. *)
  module type S = sig
    type t

    val disconnect : t -> unit Lwt.t
    (** Disconnect from the console. While this might take some time to
        complete, it can never result in an error. *)

    include Mirage_flow_v3.S with type flow := t
  end
end
