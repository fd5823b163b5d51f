^XA
^FX Packing Station shipping label, 100 x 150 mm at 203 dpi (812 x 1218 dots).
^FX Tags: a value inside FD data, a text box after FO (Chinese allowed), sections kept when true.
^FX Rules and checks: drivers/printers/template.py. Positions are in dots, origin top left.
^PW812
^LL1218
^LH0,0
^FX Header: carrier name; the order priority letter (S/A/B/C) white on black at the top right.
^FO24,40{{text:carrier size=64 width=620}}^FS
{{#priority}}
^FO668,16^GB128,128,128^FS
^FO668,30^FR^A0N,112,96^FB128,1,0,C,0^FD{{priority}}^FS
{{/priority}}
^FO0,156^GB812,4,4^FS
^FX Waybill as Code 128 (automatic subsets), its number printed below the bars.
^FO40,184^BY3,3.0,160^BCN,160,Y,N,N,A^FD{{waybill_no}}^FS
^FO0,404^GB812,4,4^FS
^FX Order number, as a smaller Code 128.
^FO24,428{{text:"订单" size=36 width=100}}^FS
^FO24,474^A0N,28,24^FDORDER^FS
^FO140,428^BY2,3.0,70^BCN,70,Y,N,N,A^FD{{order_id}}^FS
^FO0,540^GB812,4,4^FS
^FX Recipient name and phone (masked per configuration), then the address on up to three lines.
^FO24,566{{text:"收件人" size=36 width=130}}^FS
^FO160,558{{text:recipient size=48 width=628}}^FS
^FO24,630{{text:address size=48 width=764 lines=3}}^FS
{{#remark}}
^FO24,812{{text:remark size=32 width=764}}^FS
{{/remark}}
^FO0,860^GB812,4,4^FS
^FX Gift mark at the bottom left (white on black), QR code of the waybill at the bottom right.
{{#gift}}
^FO24,900^GB300,120,120^FS
^FO40,928^FR{{text:"赠品 GIFT" size=56 width=270}}^FS
{{/gift}}
^FO560,884^BQN,2,8^FDMA,{{waybill_no}}^FS
^XZ
