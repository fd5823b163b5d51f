^XA
^FX Packing Station SSCC label, 100 x 150 mm at 203 dpi (812 x 1218 dots).
^FX The carton SSCC as GS1-128: BC mode D adds FNC1 and drops the parentheses of the AI (00).
^FX Rules and checks: drivers/printers/template.py. Positions are in dots, origin top left.
^PW812
^LL1218
^LH0,0
^FO24,36{{text:carrier size=56 width=764}}^FS
^FO0,120^GB812,4,4^FS
^FO24,150{{text:"收件人" size=36 width=130}}^FS
^FO160,142{{text:recipient size=48 width=628}}^FS
^FO24,214{{text:address size=44 width=764 lines=3}}^FS
^FO0,390^GB812,4,4^FS
^FO24,428^A0N,32,28^FDORDER^FS
^FO200,416^BY2,3.0,70^BCN,70,Y,N,N,A^FD{{order_id}}^FS
^FO24,556^A0N,32,28^FDWAYBILL^FS
^FO200,544^BY2,3.0,70^BCN,70,Y,N,N,A^FD{{waybill_no}}^FS
^FO0,680^GB812,4,4^FS
{{#sscc}}
^FO24,712^A0N,36,32^FDSSCC^FS
^FO24,760^A0N,48,40^FD{{sscc_hri}}^FS
^FO60,850^BY3,3.0,260^BCN,260,N,N,N,D^FD(00){{sscc}}^FS
{{/sscc}}
^XZ
