(* SPDX-License-Identifier: GPL-2.0 *)

module Mirage_flow = struct
  type write_error = [ `Closed ]

  let pp_write_error ppf `Closed =
    Fmt.string ppf "attempted to write to a closed flow"

  type 'a or_eof = [ `Data of 'a | `Eof ]

  let pp_or_eof pp ppf = function
    | `Data d -> pp ppf d
    | `Eof -> Fmt.string ppf "End-of-file"

  module type S = sig
    type error

    val pp_error : error Fmt.t

    type nonrec write_error = private [> write_error ]

    val pp_write_error : write_error Fmt.t

    type flow

    val read : flow -> (Cstruct.t or_eof, error) result Lwt.t
    val write : flow -> Cstruct.t -> (unit, write_error) result Lwt.t
    val writev : flow -> Cstruct.t list -> (unit, write_error) result Lwt.t
    val shutdown : flow -> [< `read | `write | `read_write ] -> unit Lwt.t
    val close : flow -> unit Lwt.t
  end
end

module Mirage_flow_v3 = struct
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
  end
end

module Mirage_console = struct
  module type S = sig
    type t

    val disconnect : t -> unit Lwt.t

    include Mirage_flow_v3.S with type flow := t
  end
end
