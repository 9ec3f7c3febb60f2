(* SPDX-License-Identifier: GPL-2.0 *)

open Lwt.Infix

external ioc_shutdown : Unix.file_descr -> int -> unit = "caml_mflow_shutdown"
external ioc_close_try : Unix.file_descr -> bool = "caml_mflow_close_try"
external ioc_nosigpipe : Unix.file_descr -> unit = "caml_mflow_nosigpipe"
external edge_watch : Unix.file_descr -> Unix.file_descr = "caml_mflow_edge_watch"
external edge_take : Unix.file_descr -> unit = "caml_mflow_edge_take"

external ioc_info : Unix.file_descr -> int * int * int64 * int * int
  = "caml_mflow_info"

external ioc_stats : Unix.file_descr -> int64 * int64 * int64 * int64 * int64
  = "caml_mflow_stats"

external info_bits : unit -> int * int * int * int * int * int * int
  = "caml_mflow_info_bits"

type error = [ `Closed | `Unix of Unix.error ]
type write_error = [ `Closed | `Unix of Unix.error ]

let pp_error ppf = function
  | `Closed -> Fmt.string ppf "the flow is closed"
  | `Unix e -> Fmt.string ppf (Unix.error_message e)

let pp_write_error ppf = function
  | `Closed -> Mflow_mirage.Mirage_flow.pp_write_error ppf `Closed
  | `Unix e -> Fmt.string ppf (Unix.error_message e)

(* Raised into pending I/O by close (Lwt_unix.abort). *)
exception Flow_closed

type flow = {
  fd : Lwt_unix.file_descr;
  ufd : Unix.file_descr;
  mutable read_end : (unit, error) result option;
      (* Some (Ok ()) after `Eof, Some (Error e) after an error *)
  mutable write_end : write_error option;
  mutable closed : bool;
  wlock : Lwt_mutex.t;  (* one write, writev or shutdown at a time *)
  mutable stop_reads : unit Lwt.t * unit Lwt.u;
      (* resolved by shutdown `read and close: pending reads end *)
  closing : unit Lwt.t * unit Lwt.u;  (* resolved by close *)
}

let read_size = 65536
let fd t = t.ufd

let wake (p, u) = if Lwt.is_sleeping p then Lwt.wakeup_later u ()

(* ---- naming a console ---- *)

let is_digits s = s <> "" && String.for_all (function '0' .. '9' -> true | _ -> false) s

let index_of s =
  if is_digits s then Some s
  else if String.length s > 5 && String.sub s 0 5 = "mflow"
          && is_digits (String.sub s 5 (String.length s - 5))
  then Some (String.sub s 5 (String.length s - 5))
  else None

(* SPEC R17's rules. *)
let check_name s =
  let ok_char = function
    | 'a' .. 'z' | 'A' .. 'Z' | '0' .. '9' | '.' | '_' | '-' -> true
    | _ -> false
  in
  let n = String.length s in
  if n < 1 || n > 31 || not (String.for_all ok_char s) || s.[0] = '.'
     || s.[0] = '-' || index_of s <> None
  then invalid_arg (Printf.sprintf "Mflow_lwt: %S is not a console name" s)

let sysfs_name dir =
  try
    let ic = open_in ("/sys/class/mflow/" ^ dir ^ "/name") in
    Fun.protect ~finally:(fun () -> close_in ic) (fun () ->
      Some (String.trim (input_line ic)))
  with Sys_error _ | End_of_file -> None

let resolve console =
  if console = "" then invalid_arg "Mflow_lwt: an empty string names no console"
  else if String.contains console '/' then console
  else
    match index_of console with
    | Some i -> "/dev/mflow" ^ i
    | None ->
        check_name console;
        let link = "/dev/mflow/by-name/" ^ console in
        if Sys.file_exists link then link
        else
          let dirs = try Sys.readdir "/sys/class/mflow" with Sys_error _ -> [||] in
          match
            Array.find_opt
              (fun d -> index_of d <> None && sysfs_name d = Some console)
              dirs
          with
          | Some d -> "/dev/" ^ d
          | None -> raise (Unix.Unix_error (Unix.ENODEV, "connect", console))

let connect console =
  Lwt.wrap (fun () ->
      let path = resolve console in
      (* open(2) of a console never blocks (R1): it attaches or fails. *)
      let ufd = Unix.openfile path [ O_RDWR; O_NONBLOCK; O_CLOEXEC ] 0 in
      (try ioc_nosigpipe ufd with e -> Unix.close ufd; raise e);
      {
        fd = Lwt_unix.of_unix_file_descr ~blocking:false ~set_flags:false ufd;
        ufd;
        read_end = None;
        write_end = None;
        closed = false;
        wlock = Lwt_mutex.create ();
        stop_reads = Lwt.wait ();
        closing = Lwt.wait ();
      })

(* ---- reading ---- *)

let end_read t r =
  if t.read_end = None then t.read_end <- Some r;
  match t.read_end with
  | Some (Ok ()) | None -> Ok `Eof
  | Some (Error e) -> Error e

let read t =
  match t.read_end with
  | Some (Ok ()) -> Lwt.return (Ok `Eof)
  | Some (Error e) -> Lwt.return (Error e)
  | None ->
      let buf = Cstruct.create_unsafe read_size in
      Lwt.catch
        (fun () ->
          Lwt.pick
            [
              (Lwt_cstruct.read t.fd buf >|= fun n -> `Read n);
              (fst t.stop_reads >|= fun () -> `Stopped);
            ]
          >|= function
          | `Read 0 -> end_read t (Ok ())
          | `Read n -> Ok (`Data (Cstruct.sub buf 0 n))
          | `Stopped -> end_read t (if t.closed then Error `Closed else Ok ()))
        (function
          | Flow_closed -> Lwt.return (end_read t (Error `Closed))
          | Unix.Unix_error (e, _, _) -> Lwt.return (end_read t (Error (`Unix e)))
          | e -> Lwt.fail e)

(* ---- writing ---- *)

let end_write t e =
  if t.write_end = None then t.write_end <- Some e;
  Error (Option.value t.write_end ~default:e)

let writev t bufs =
  match t.write_end with
  | Some e -> Lwt.return (Error e)
  | None ->
      Lwt_mutex.with_lock t.wlock (fun () ->
          match t.write_end with
          | Some e -> Lwt.return (Error e)
          | None ->
              let iov = Lwt_unix.IO_vectors.create () in
              List.iter
                (fun (c : Cstruct.t) ->
                  Lwt_unix.IO_vectors.append_bigarray iov c.buffer c.off c.len)
                bufs;
              let rec loop () =
                if Lwt_unix.IO_vectors.is_empty iov then Lwt.return (Ok ())
                else
                  Lwt_unix.writev t.fd iov >>= fun n ->
                  Lwt_unix.IO_vectors.drop iov n;
                  loop ()
              in
              Lwt.catch loop (function
                | Flow_closed | Unix.Unix_error (Unix.EPIPE, _, _) ->
                    Lwt.return (end_write t `Closed)
                | Unix.Unix_error (e, _, _) -> Lwt.return (end_write t (`Unix e))
                | e -> Lwt.fail e))

let write t buf = writev t [ buf ]

(* ---- shutdown, close ---- *)

let shut_read t =
  if t.read_end = None then t.read_end <- Some (Ok ());
  wake t.stop_reads

let shutdown t mode =
  if t.closed then Lwt.return_unit
  else
    match mode with
    | `read ->
        ioc_shutdown t.ufd 0;
        shut_read t;
        Lwt.return_unit
    | (`write | `read_write) as m ->
        (* After the pending writes. *)
        Lwt_mutex.with_lock t.wlock (fun () ->
            if not t.closed then begin
              ioc_shutdown t.ufd (if m = `write then 1 else 2);
              if t.write_end = None then t.write_end <- Some `Closed;
              if m = `read_write then shut_read t
            end;
            Lwt.return_unit)

let close t =
  if t.closed then Lwt.return_unit
  else begin
    t.closed <- true;
    (* Both sides first: the detach must not wait on anything, and
       whoever else holds the file (a fork, a dup) sees it at once. *)
    (try ioc_shutdown t.ufd 2 with Unix.Unix_error _ -> ());
    t.read_end <- Some (Error `Closed);
    t.write_end <- Some `Closed;
    wake t.stop_reads;
    wake t.closing;
    Lwt_unix.abort t.fd Flow_closed;
    Lwt.catch (fun () -> Lwt_unix.close t.fd) (fun _ -> Lwt.return_unit)
  end

(* ---- the close handshake ---- *)

let handshake t =
  if t.closed then Lwt.return_unit
  else
    (* The pending writes first, then no more. *)
    Lwt_mutex.with_lock t.wlock (fun () ->
        if t.write_end = None then t.write_end <- Some `Closed;
        Lwt.return_unit)
    >>= fun () ->
    if t.closed then Lwt.return_unit
    else
      (* Each try of the ioctl after a shutdown or detach on the console
         (see caml_mflow_edge_watch), until it succeeds or close ends the
         flow. *)
      let ep = edge_watch t.ufd in
      let lep = Lwt_unix.of_unix_file_descr ~blocking:false ~set_flags:false ep in
      let rec loop () =
        if t.closed || ioc_close_try t.ufd then Lwt.return_unit
        else
          Lwt.pick [ Lwt_unix.wait_read lep; fst t.closing ] >>= fun () ->
          edge_take ep;
          loop ()
      in
      Lwt.finalize loop (fun () -> Lwt_unix.close lep)

(* ---- figures ---- *)

type info = {
  console : int;
  endpoint : int;
  connection : int64;
  fifo_size : int;
  flags : int;
}

let info t =
  let console, endpoint, connection, fifo_size, flags = ioc_info t.ufd in
  { console; endpoint; connection; fifo_size; flags }

module Info_flag = struct
  let ( rd_shut,
        wr_shut,
        peer_rd_shut,
        peer_wr_shut,
        peer_attached,
        peer_detached,
        nosigpipe ) =
    info_bits ()
end

type stats = {
  read_bytes : int64;
  read_ops : int64;
  write_bytes : int64;
  write_ops : int64;
  duration : int64;
}

let stats t =
  let read_bytes, read_ops, write_bytes, write_ops, duration = ioc_stats t.ufd in
  { read_bytes; read_ops; write_bytes; write_ops; duration }

module Console = struct
  type t = flow
  type nonrec error = error

  let pp_error = pp_error

  type nonrec write_error = write_error

  let pp_write_error = pp_write_error
  let connect = connect
  let read = read
  let write = write
  let writev = writev
  let disconnect = close
  let close = handshake
end
