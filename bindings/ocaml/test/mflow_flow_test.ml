(* SPDX-License-Identifier: GPL-2.0 *)

(* The OCaml binding against the module, with TAP output. The echo server
   and client, and the handshake, are functors over the Mirage signatures:
   they see nothing of mflow but Mirage_flow.S or Mirage_console.S. Uses
   /dev/mflow0 (MFLOW_CONSOLE=N for another); needs its consoles idle. *)

open Lwt.Infix
open Mflow_mirage

exception Fail of string

let fail fmt = Fmt.kstr (fun s -> Lwt.fail (Fail s)) fmt
let check cond what = if cond then Lwt.return_unit else fail "%s" what
let mib4 = 4 lsl 20

(* Reads of any flow of the signature: until `Eof, and one read after it.
   Every buffer must have at least one byte and be fresh (not the memory
   of the buffer before it). *)
module Reader (F : sig
  type flow
  type error

  val pp_error : error Fmt.t
  val read : flow -> (Cstruct.t Mirage_flow.or_eof, error) result Lwt.t
end) =
struct
  let read_all flow =
    let out = Buffer.create 65536 in
    let rec loop prev =
      F.read flow >>= function
      | Ok `Eof -> (
          F.read flow >>= function
          | Ok `Eof -> Lwt.return (Buffer.contents out)
          | Ok (`Data _) -> fail "a read after `Eof returned data"
          | Error e -> fail "a read after `Eof: %a" F.pp_error e)
      | Ok (`Data b) ->
          if Cstruct.length b < 1 then fail "a read returned no byte"
          else if
            match prev with
            | Some (p : Cstruct.t) -> p.buffer == b.Cstruct.buffer
            | None -> false
          then fail "a read returned the memory of the read before"
          else begin
            Buffer.add_string out (Cstruct.to_string b);
            loop (Some b)
          end
      | Error e -> fail "read: %a" F.pp_error e
    in
    loop None

  let rec read_exactly flow n =
    if n = 0 then Lwt.return ""
    else
      F.read flow >>= function
      | Ok (`Data b) when Cstruct.length b <= n ->
          read_exactly flow (n - Cstruct.length b) >|= fun rest ->
          Cstruct.to_string b ^ rest
      | Ok (`Data _) -> fail "more bytes than were sent"
      | Ok `Eof -> fail "`Eof before %d more bytes" n
      | Error e -> fail "read: %a" F.pp_error e
end

(* A Mirage-style echo server and its client. *)
module Echo (F : Mirage_flow.S) = struct
  include Reader (F)

  let rec server flow =
    F.read flow >>= function
    | Ok `Eof -> F.shutdown flow `write
    | Ok (`Data b) -> (
        F.write flow b >>= function
        | Ok () -> server flow
        | Error e -> fail "server write: %a" F.pp_write_error e)
    | Error e -> fail "server read: %a" F.pp_error e

  (* Sends data in pieces of varied sizes, by write and by writev, then
     half-closes. *)
  let send flow data =
    let len = String.length data in
    let rec go off i =
      if off >= len then F.shutdown flow `write
      else
        let n = min (len - off) (1 + (i * 7919 mod 200_000)) in
        let c = Cstruct.of_string ~off ~len:n data in
        (if i mod 2 = 0 then F.write flow c
         else
           let h = n / 2 in
           F.writev flow [ Cstruct.sub c 0 h; Cstruct.sub c h (n - h) ])
        >>= function
        | Ok () -> go (off + n) (i + 1)
        | Error e -> fail "client write: %a" F.pp_write_error e
    in
    go 0 0

  let client flow data = Lwt.both (send flow data) (read_all flow) >|= snd

  let expect_closed what = function
    | Ok () -> fail "%s: Ok, want Error `Closed" what
    | Error `Closed -> Lwt.return_unit
    | Error e -> fail "%s: %a, want `Closed" what F.pp_write_error e
end

(* The handshake, over the console signature. *)
module Handshake (C : Mirage_console.S) = struct
  include Reader (struct
    type flow = C.t

    include (C : module type of C with type t := flow)
  end)

  let write flow s =
    C.write flow (Cstruct.of_string s) >>= function
    | Ok () -> Lwt.return_unit
    | Error e -> fail "write: %a" C.pp_write_error e

  let started_by first second =
    write first "bye" >>= fun () ->
    let closing = C.close first in
    read_all second >>= fun got ->
    check (got = "bye") "the peer reads bye, then `Eof" >>= fun () ->
    check (Lwt.is_sleeping closing) "close returned before the peer closed"
    >>= fun () ->
    write second "answer" >>= fun () ->
    read_exactly first 6 >>= fun got ->
    check (got = "answer") "the first reads while its close waits" >>= fun () ->
    check (Lwt.is_sleeping closing) "close returned before the peer closed"
    >>= fun () ->
    C.close second >>= fun () ->
    closing >>= fun () ->
    read_all first >>= fun rest ->
    check (rest = "") "the first reads `Eof" >>= fun () ->
    C.close first >>= fun () ->
    (* idempotent *)
    C.write first (Cstruct.of_string "late") >>= function
    | Error `Closed -> Lwt.return_unit
    | Ok () -> fail "a write after close succeeded"
    | Error e -> fail "a write after close: %a" C.pp_write_error e

  let both_at_once a b =
    let big c = String.make 100_000 c in
    write a (big 'A') |> ignore;
    write b (big 'B') |> ignore;
    (* More than the fifo holds each way: the handshakes end only if both
       go on reading while they wait. *)
    Lwt.both (Lwt.both (C.close a) (C.close b)) (Lwt.both (read_all a) (read_all b))
    >>= fun (_, (ga, gb)) ->
    check (ga = big 'B' && gb = big 'A') "both read everything, then `Eof"
end

module E = Echo (Mflow_lwt)
module H = Handshake (Mflow_lwt.Console)
module R = Reader (Mflow_lwt)

let console = try Sys.getenv "MFLOW_CONSOLE" with Not_found -> "0"
let path = "/dev/mflow" ^ console

(* Flows a case opened, closed after it whatever happened. *)
let opened = ref []

let connect c =
  Mflow_lwt.connect c >|= fun f ->
  opened := f :: !opened;
  f

let pair () =
  connect path >>= fun a ->
  connect path >|= fun b -> (a, b)

let random_string seed n =
  let st = Random.State.make [| seed |] in
  String.init n (fun _ -> Char.chr (Random.State.int st 256))

let same got want what =
  if got = want then Lwt.return_unit
  else
    let n = ref 0 in
    while !n < String.length got && !n < String.length want && got.[!n] = want.[!n] do
      incr n
    done;
    fail "%s: %d bytes, want %d; first difference at %d" what (String.length got)
      (String.length want) !n

let expect_fail what f =
  Lwt.catch
    (fun () -> f () >>= fun _ -> fail "%s succeeded" what)
    (function
      | (Invalid_argument _ | Unix.Unix_error _) as e -> Lwt.return e
      | e -> Lwt.fail e)

let cases =
  [
    ( "R1_R13_connect_by_path_index_and_kernel_name",
      fun () ->
        connect path >>= fun a ->
        connect ("mflow" ^ console) >>= fun b ->
        let ia = Mflow_lwt.info a and ib = Mflow_lwt.info b in
        check (ia.endpoint = 0 && ib.endpoint = 1) "endpoints 0 and 1" >>= fun () ->
        check (string_of_int ia.console = console) "console index" >>= fun () ->
        check (ia.flags land Mflow_lwt.Info_flag.peer_attached <> 0) "peer attached"
        >>= fun () ->
        check (ia.flags land Mflow_lwt.Info_flag.nosigpipe <> 0) "EPIPE without SIGPIPE"
        >>= fun () ->
        expect_fail "a third connect" (fun () -> connect console) >>= fun e ->
        check (e = Unix.Unix_error (Unix.EBUSY, "open", path)) (Printexc.to_string e)
        >>= fun () ->
        expect_fail "connect \"\"" (fun () -> connect "") >>= fun _ ->
        expect_fail "a bad name" (fun () -> connect "no such name!") >|= ignore );
    ( "R5_R4_echo_4MiB_each_way_through_S",
      fun () ->
        pair () >>= fun (a, b) ->
        let data = random_string 4 mib4 in
        Lwt.both (E.client a data) (E.server b) >>= fun (echoed, ()) ->
        same echoed data "the echo" >>= fun () ->
        let s = Mflow_lwt.stats b in
        check (s.read_bytes = Int64.of_int mib4 && s.write_bytes = Int64.of_int mib4)
          "the server's counters" >>= fun () ->
        Mflow_lwt.close a >>= fun () ->
        Mflow_lwt.close a >>= fun () -> Mflow_lwt.close b );
    ( "R8_half_close_through_S",
      fun () ->
        pair () >>= fun (a, b) ->
        Mflow_lwt.write a (Cstruct.of_string "ping") >>= fun _ ->
        Mflow_lwt.shutdown a `write >>= fun () ->
        E.read_all b >>= fun got ->
        check (got = "ping") "b reads ping, then `Eof" >>= fun () ->
        Mflow_lwt.write a (Cstruct.of_string "late") >>= E.expect_closed "a write after shutdown"
        >>= fun () ->
        Mflow_lwt.writev b [ Cstruct.of_string "po"; Cstruct.of_string "ng" ] >>= fun _ ->
        Mflow_lwt.shutdown b `write >>= fun () ->
        E.read_all a >>= fun got -> check (got = "pong") "a still reads, then `Eof" );
    ( "R9_console_handshake_started_by_endpoint_0",
      fun () -> pair () >>= fun (a, b) -> H.started_by a b );
    ( "R9_console_handshake_started_by_endpoint_1",
      fun () -> pair () >>= fun (a, b) -> H.started_by b a );
    ( "R9_console_handshake_from_both_sides_at_once",
      fun () -> pair () >>= fun (a, b) -> H.both_at_once a b );
    ( "R4_R10_Eof_after_peer_disconnect_with_data_in_flight",
      fun () ->
        pair () >>= fun (a, b) ->
        let data = random_string 10 300_000 in
        let sender =
          Mflow_lwt.Console.write b (Cstruct.of_string data) >>= fun _ ->
          Mflow_lwt.Console.disconnect b
        in
        Lwt.both sender (R.read_all a) >>= fun ((), got) ->
        same got data "a reads what b wrote, then `Eof" >>= fun () ->
        check
          ((Mflow_lwt.info a).flags land Mflow_lwt.Info_flag.peer_detached <> 0)
          "peer detached" );
    ( "R7_Closed_after_peer_disconnects",
      fun () ->
        pair () >>= fun (a, b) ->
        Mflow_lwt.Console.disconnect b >>= fun () ->
        Mflow_lwt.write a (Cstruct.of_string "nobody reads this")
        >>= E.expect_closed "write" >>= fun () ->
        Mflow_lwt.writev a [ Cstruct.of_string "again" ] >>= E.expect_closed "writev"
        >>= fun () ->
        R.read_all a >>= fun got -> check (got = "") "`Eof" );
    ( "R10_close_ends_a_pending_read_and_is_idempotent",
      fun () ->
        pair () >>= fun (a, b) ->
        let pending = Mflow_lwt.read a in
        Lwt.pause () >>= fun () ->
        check (Lwt.is_sleeping pending) "the read waits" >>= fun () ->
        Mflow_lwt.close a >>= fun () ->
        (pending >>= function
         | Error `Closed -> Lwt.return_unit
         | Ok _ -> fail "the pending read returned data or `Eof"
         | Error e -> fail "the pending read: %a" Mflow_lwt.pp_error e)
        >>= fun () ->
        Mflow_lwt.close a >>= fun () ->
        (Mflow_lwt.read a >>= function
         | Error `Closed -> Lwt.return_unit
         | _ -> fail "a read after close did not fail")
        >>= fun () ->
        Mflow_lwt.write a (Cstruct.of_string "x") >>= E.expect_closed "write after close"
        >>= fun () ->
        R.read_all b >>= fun got ->
        check (got = "") "the peer reads `Eof" >>= fun () ->
        Mflow_lwt.write b (Cstruct.of_string "x") >>= E.expect_closed "the peer's write" );
    ( "R9_R11_console_handshake_waits_without_spinning",
      fun () ->
        pair () >>= fun (a, b) ->
        let closing = Mflow_lwt.Console.close a in
        R.read_all b >>= fun got ->
        check (got = "") "b reads `Eof: a waits for b now" >>= fun () ->
        let cpu () =
          let t = Unix.times () in
          t.tms_utime +. t.tms_stime
        in
        let before = cpu () in
        (* a window to measure, not a synchronisation *)
        Lwt_unix.sleep 0.5 >>= fun () ->
        let used = cpu () -. before in
        check (Lwt.is_sleeping closing) "close returned before b closed" >>= fun () ->
        check (used < 0.2)
          (Printf.sprintf "waiting for the peer took %.2f s of CPU in 0.5 s: the wait spins" used)
        >>= fun () ->
        Mflow_lwt.Console.close b >>= fun () -> closing );
    ( "R9_R10_disconnect_ends_the_peers_handshake",
      fun () ->
        pair () >>= fun (a, b) ->
        let closing = Mflow_lwt.Console.close a in
        R.read_all b >>= fun got ->
        check (got = "") "b reads `Eof" >>= fun () ->
        check (Lwt.is_sleeping closing) "close returned before b left" >>= fun () ->
        Mflow_lwt.Console.disconnect b >>= fun () -> closing );
    ( "docs_ocaml_example_runs",
      fun () ->
        let exe = Filename.concat (Filename.dirname Sys.executable_name) "ocaml-example" in
        let env = Array.append [| "MFLOW_CONSOLE=" ^ path |] (Unix.environment ()) in
        let cmd = (exe, [| exe |]) in
        Lwt_process.pread ~env ~stderr:`Keep cmd >>= fun out ->
        check (out = "echoed 1048576 bytes\nhandshake done\n")
          (Printf.sprintf "output %S" out) );
  ]

(* MFLOW_CASES: run only the cases whose names it lists (comma-separated);
   MFLOW_CASE_SECS: how long a case may take before it fails (120). *)
let case_secs =
  try float_of_string (Sys.getenv "MFLOW_CASE_SECS") with Not_found | Failure _ -> 120.

let cases =
  match Sys.getenv_opt "MFLOW_CASES" with
  | None | Some "" -> cases
  | Some l ->
      let want = String.split_on_char ',' l in
      List.filter (fun (name, _) -> List.mem name want) cases

let run_case (name, f) =
  opened := [];
  Lwt.catch
    (fun () ->
      Lwt.pick [ f (); (Lwt_unix.sleep case_secs >>= fun () -> fail "timed out") ]
      >|= fun () -> None)
    (fun e ->
      Lwt.return
        (Some
           (match e with Fail s -> s | e -> Printexc.to_string e)))
  >>= fun result ->
  Lwt_list.iter_s Mflow_lwt.close !opened >|= fun () -> (name, result)

let () =
  if Unix.geteuid () <> 0 then (print_endline "1..0 # SKIP needs root"; exit 4);
  if not (Sys.file_exists path) then (
    Printf.printf "1..0 # SKIP no %s: mflow is not loaded\n" path;
    exit 4);
  Printf.printf "1..%d\n%!" (List.length cases);
  let failed = ref 0 in
  List.iteri
    (fun i case ->
      let name, result = Lwt_main.run (run_case case) in
      match result with
      | None -> Printf.printf "ok %d %s\n%!" (i + 1) name
      | Some why ->
          incr failed;
          Printf.printf "# %s\nnot ok %d %s\n%!" why (i + 1) name)
    cases;
  exit (if !failed = 0 then 0 else 1)
